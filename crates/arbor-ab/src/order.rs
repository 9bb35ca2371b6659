//! The order of the arm-rounds (--order).

use crate::args::Order;

/// (round, slot, arm index) for every arm-round, in execution order.
pub fn schedule(
    n_arms: usize,
    rounds: usize,
    order: Order,
    seed: u64,
) -> Vec<(usize, usize, usize)> {
    let mut rng = arbor_util::rng::SplitMix64::new(seed ^ 0x0A0B_0C0D);
    let mut v = Vec::new();
    for r in 0..rounds {
        let mut arms: Vec<usize> = (0..n_arms).collect();
        match order {
            Order::Alternate => {}
            Order::Abba => {
                if r % 2 == 1 {
                    arms.reverse();
                }
            }
            Order::Random => rng.shuffle(&mut arms),
        }
        for (slot, a) in arms.into_iter().enumerate() {
            v.push((r, slot, a));
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_orders() {
        let s = schedule(2, 3, Order::Alternate, 1);
        assert_eq!(
            s.iter().map(|x| x.2).collect::<Vec<_>>(),
            vec![0, 1, 0, 1, 0, 1]
        );
        let s = schedule(2, 3, Order::Abba, 1);
        assert_eq!(
            s.iter().map(|x| x.2).collect::<Vec<_>>(),
            vec![0, 1, 1, 0, 0, 1]
        );
        let s = schedule(3, 20, Order::Random, 9);
        // every round holds every arm once; the order is deterministic for a seed
        for r in 0..20 {
            let mut a: Vec<usize> = s.iter().filter(|x| x.0 == r).map(|x| x.2).collect();
            a.sort();
            assert_eq!(a, vec![0, 1, 2]);
        }
        assert_eq!(s, schedule(3, 20, Order::Random, 9));
        assert!(
            s.chunks(3).any(|c| c[0].2 != 0),
            "random order never changed the first arm"
        );
    }
}
