//! The `mlz` binary: parse arguments, run, exit. Everything else is in the library.

/// mimalloc instead of the system allocator: a run builds and drops millions of small
/// strings and vectors, and glibc's malloc and free were a third of the instructions at
/// 1,000 teams (docs/PERFORMANCE.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(mlz::main_with_args(std::env::args_os()));
}
