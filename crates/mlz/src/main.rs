//! The `mlz` binary: parse arguments, run, exit. Everything else is in the library.

fn main() {
    std::process::exit(mlz::main_with_args(std::env::args_os()));
}
