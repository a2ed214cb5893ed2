//! Concurrency lanes: spreading stacks that use a limited resource (Control Tower's Account
//! Factory runs at most five account operations at once) over that many parallel chains.
//!
//! Each stack runs its operations one after another (its resources are chained), so a lane
//! runs one operation at a time and `lanes` lanes never exceed the limit. Stacks are the
//! unit: an account never moves between stacks (their membership is a frozen hash), so the
//! lanes balance whole stacks. The partition is deterministic (it depends only on the stacks'
//! keys and sizes), and moving a stack to another lane changes only the order of deployment,
//! never a template.

/// Assigns each item (a key and its number of operations) to one of `lanes` lanes so that
/// the busiest lane is as short as a greedy pass and pairwise improvements make it.
/// Returns the lane of each item, in input order.
pub fn partition(items: &[(&str, u32)], lanes: u32) -> Vec<u32> {
    let lanes = lanes.max(1) as usize;
    let mut order: Vec<usize> = (0..items.len()).collect();
    // Largest first; ties by key, so the result never depends on input order.
    order.sort_by(|&a, &b| items[b].1.cmp(&items[a].1).then(items[a].0.cmp(items[b].0)));
    let mut load = vec![0u64; lanes];
    let mut lane_of = vec![0usize; items.len()];
    for &i in &order {
        let l = (0..lanes)
            .min_by_key(|&l| (load[l], l))
            .expect("lanes is at least one (max(1) above)");
        lane_of[i] = l;
        load[l] += u64::from(items[i].1);
    }
    // Improve: move or swap items between the busiest lane and another while that lowers
    // the busier of the two. Bounded: each accepted change lowers the sum of squared loads.
    for _ in 0..(items.len() * lanes * 4).max(16) {
        let Some(max) = (0..lanes).max_by_key(|&l| (load[l], std::cmp::Reverse(l))) else {
            break;
        };
        let mut best: Option<(u64, usize, Option<usize>, usize)> = None;
        for other in (0..lanes).filter(|&l| l != max) {
            let (a, b) = (load[max], load[other]);
            for i in (0..items.len()).filter(|&i| lane_of[i] == max) {
                let w = u64::from(items[i].1);
                // Move i to `other`.
                let peak = (a - w).max(b + w);
                if peak < a && best.is_none_or(|(p, ..)| peak < p) {
                    best = Some((peak, i, None, other));
                }
                // Swap i with a smaller j of `other`.
                for j in (0..items.len()).filter(|&j| lane_of[j] == other) {
                    let v = u64::from(items[j].1);
                    if v >= w {
                        continue;
                    }
                    let peak = (a - w + v).max(b + w - v);
                    if peak < a && best.is_none_or(|(p, ..)| peak < p) {
                        best = Some((peak, i, Some(j), other));
                    }
                }
            }
        }
        let Some((_, i, j, other)) = best else { break };
        let w = u64::from(items[i].1);
        load[max] -= w;
        load[other] += w;
        lane_of[i] = other;
        if let Some(j) = j {
            let v = u64::from(items[j].1);
            load[other] -= v;
            load[max] += v;
            lane_of[j] = max;
        }
    }
    lane_of.into_iter().map(|l| l as u32).collect()
}

#[cfg(test)]
mod tests {
    use super::partition;

    fn loads(items: &[(&str, u32)], lanes: u32) -> Vec<u64> {
        let mut load = vec![0u64; lanes as usize];
        for (i, l) in partition(items, lanes).into_iter().enumerate() {
            load[l as usize] += u64::from(items[i].1);
        }
        load
    }

    #[test]
    fn lanes_balance_to_within_an_operation_or_two() {
        let names: Vec<String> = (0..33).map(|i| format!("s{i}")).collect();
        let items: Vec<(&str, u32)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), 60 + ((i as u32 * 37) % 70)))
            .collect();
        let total: u64 = items.iter().map(|x| u64::from(x.1)).sum();
        let load = loads(&items, 5);
        let max = load.iter().copied().max().unwrap_or(0);
        assert!(max <= total.div_ceil(5) + 3, "{load:?} of {total}");
    }

    #[test]
    fn the_partition_does_not_depend_on_input_order() {
        let a = [("x", 5), ("y", 3), ("z", 3), ("w", 1)];
        let b = [("w", 1), ("z", 3), ("y", 3), ("x", 5)];
        let la = partition(&a, 2);
        let lb = partition(&b, 2);
        for (i, (k, _)) in a.iter().enumerate() {
            let j = b.iter().position(|(x, _)| x == k).unwrap_or(0);
            assert_eq!(la[i], lb[j], "{k}");
        }
    }

    #[test]
    fn one_lane_takes_everything() {
        assert_eq!(partition(&[("a", 1), ("b", 2)], 1), vec![0, 0]);
    }
}
