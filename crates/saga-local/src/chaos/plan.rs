//! The campaign's plan, drawn from its seed alone: the catalog it stocks,
//! the orders its clients place (lines, payment method, whether the client
//! sends the same POST again) and the schedule of faults it sets.
//!
//! The generator is SplitMix64, written here rather than taken from `rand`,
//! so a seed names the same plan on every machine and every `rand` version.
//! What the plan cannot fix is which invocation a fault meets: orders run
//! concurrently, so the schedule says "before the Nth order is placed, fail
//! the next `count` invocations of `function` this way", and the report
//! counts what the local cloud actually injected.

use crate::faults::FaultMode;

/// SplitMix64 (Steele, Lea and Flood, 2014): small, fast, and good enough
/// to draw a test plan from.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound` > 0); the modulo bias is far below
    /// anything a campaign of thousands of draws could notice.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound.max(1)
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }

    /// One of `choices`, each as likely as its weight.
    pub fn weighted<T: Copy>(&mut self, choices: &[(T, u64)]) -> T {
        let total: u64 = choices.iter().map(|(_, weight)| weight).sum();
        let mut left = self.below(total);
        for (choice, weight) in choices {
            if left < *weight {
                return *choice;
            }
            left -= weight;
        }
        choices[choices.len() - 1].0
    }
}

/// How a client sends an order's POST beyond the first answer it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resend {
    /// Once (plus retries of errors and timeouts, which every client makes).
    Once,
    /// Again after the answer, as a client that lost the answer would.
    Again,
    /// Twice at the same time, as a double-click would.
    Concurrently,
}

/// One order of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedOrder {
    /// Position in the plan; also names the customer.
    pub index: usize,
    /// `(index into Plan::skus, quantity)`, SKUs distinct.
    pub lines: Vec<(usize, u64)>,
    /// A test payment method of the simulated provider.
    pub payment_method: &'static str,
    /// How the client sends the POST.
    pub resend: Resend,
}

/// One entry of the fault schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledFault {
    /// Set just before the order with this index is placed.
    pub before_order: usize,
    /// The function's binary name.
    pub function: String,
    /// What the fault does.
    pub mode: FaultMode,
    /// How many invocations it affects.
    pub count: u32,
    /// For a delay fault, how long.
    pub delay_ms: Option<u64>,
}

/// The whole plan of one campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Units of each SKU at the start.
    pub stock: Vec<u64>,
    /// The orders, in the order clients take them.
    pub orders: Vec<PlannedOrder>,
    /// The faults, sorted by `before_order`.
    pub faults: Vec<ScheduledFault>,
}

/// The payment methods clients use, and how often: mostly cards that
/// capture, some declines, and some that fail at the provider every time
/// (those orders must be rejected with everything given back).
const PAYMENT_METHODS: &[(&str, u64)] = &[
    ("pm_card_visa", 60),
    ("pm_card_mastercard", 10),
    ("pm_card_chargeDeclined", 10),
    ("pm_card_chargeDeclinedInsufficientFunds", 5),
    ("pm_card_transientFailure", 15),
];

const RESENDS: &[(Resend, u64)] = &[
    (Resend::Once, 70),
    (Resend::Again, 15),
    (Resend::Concurrently, 15),
];

/// Every fault mode the local cloud has, equally likely.
pub const MODES: &[(FaultMode, u64)] = &[
    (FaultMode::Transient, 1),
    (FaultMode::Permanent, 1),
    (FaultMode::Delay, 1),
    (FaultMode::Outage, 1),
    (FaultMode::Crash, 1),
    (FaultMode::Timeout, 1),
    (FaultMode::Service, 1),
    (FaultMode::Duplicate, 1),
    (FaultMode::LostAnswer, 1),
    (FaultMode::ForgetKeys, 1),
    (FaultMode::CallbackTwice, 1),
];

impl Plan {
    /// The plan for `orders` orders under `seed`, with faults on
    /// `functions` (binary names; their order does not matter).
    pub fn new(seed: u64, orders: usize, functions: &[String]) -> Self {
        let mut random = SplitMix64::new(seed);
        let mut functions = functions.to_vec();
        functions.sort_unstable();
        // Some modes mean something only to some functions (the provider's
        // callers, the task reporter); every other mode goes to any function.
        // About 25 orders per SKU, at least 3 SKUs; each order takes 1 or 2
        // lines of 1 to 3 units (3 units on average), and the catalog holds
        // about 70% of that demand, so stock runs out for some orders.
        let skus = (orders / 25).max(3);
        let per_sku = ((orders as u64 * 3 * 7) / (skus as u64 * 10)).max(1);
        let stock = (0..skus)
            .map(|_| random.between(per_sku / 2, per_sku * 3 / 2).max(1))
            .collect();
        let orders: Vec<PlannedOrder> = (0..orders)
            .map(|index| {
                let first = random.below(skus as u64) as usize;
                let mut lines = vec![(first, random.between(1, 3))];
                if random.below(2) == 1 {
                    let second = (first + 1 + random.below(skus as u64 - 1) as usize) % skus;
                    lines.push((second, random.between(1, 3)));
                }
                PlannedOrder {
                    index,
                    lines,
                    payment_method: random.weighted(PAYMENT_METHODS),
                    resend: random.weighted(RESENDS),
                }
            })
            .collect();
        let mut faults: Vec<ScheduledFault> = if functions.is_empty() {
            Vec::new()
        } else {
            (0..(orders.len() / 8).max(1))
                .map(|_| {
                    let mode = random.weighted(MODES);
                    let only: Vec<String> = mode
                        .only_for()
                        .map(|only| {
                            functions
                                .iter()
                                .filter(|f| only.contains(&f.as_str()))
                                .cloned()
                                .collect()
                        })
                        .unwrap_or_default();
                    let candidates = if only.is_empty() { &functions } else { &only };
                    ScheduledFault {
                        before_order: random.below(orders.len() as u64) as usize,
                        function: candidates[random.below(candidates.len() as u64) as usize]
                            .clone(),
                        mode,
                        count: random.between(1, 3) as u32,
                        delay_ms: (mode == FaultMode::Delay).then(|| random.between(100, 2_000)),
                    }
                })
                .collect()
        };
        faults.sort_by_key(|fault| fault.before_order);
        Plan {
            stock,
            orders,
            faults,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn functions() -> Vec<String> {
        ["reserve", "charge", "ship", "refund", "release"]
            .map(str::to_owned)
            .to_vec()
    }

    #[test]
    fn splitmix64_gives_the_reference_sequence() {
        // The first outputs for seed 0 from the published reference code.
        let mut random = SplitMix64::new(0);
        assert_eq!(random.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(random.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn the_same_seed_gives_the_same_plan_and_another_seed_another() {
        let one = Plan::new(7, 300, &functions());
        let mut shuffled = functions();
        shuffled.reverse();
        assert_eq!(
            one,
            Plan::new(7, 300, &shuffled),
            "function order is irrelevant"
        );
        assert_ne!(one, Plan::new(8, 300, &functions()));
    }

    #[test]
    fn a_plan_uses_every_fault_mode_function_payment_method_and_resend() {
        let plan = Plan::new(1, 2_000, &functions());
        assert_eq!(plan.orders.len(), 2_000);
        assert_eq!(plan.faults.len(), 250);
        for (mode, _) in MODES {
            assert!(plan.faults.iter().any(|f| f.mode == *mode), "{mode:?}");
        }
        assert!(
            plan.faults.iter().all(|f| f
                .mode
                .only_for()
                .is_none_or(|only| only.contains(&f.function.as_str()))),
            "provider faults only where the provider is called, callback faults only on ship"
        );
        for function in functions() {
            assert!(plan.faults.iter().any(|f| f.function == function));
        }
        for (method, _) in PAYMENT_METHODS {
            assert!(plan.orders.iter().any(|o| o.payment_method == *method));
        }
        for (resend, _) in RESENDS {
            assert!(plan.orders.iter().any(|o| o.resend == *resend));
        }
        assert!(
            plan.faults
                .windows(2)
                .all(|pair| pair[0].before_order <= pair[1].before_order)
        );
        for order in &plan.orders {
            let skus: Vec<usize> = order.lines.iter().map(|(sku, _)| *sku).collect();
            assert!(skus.iter().all(|sku| *sku < plan.stock.len()));
            assert!(skus.len() == 1 || skus[0] != skus[1], "distinct SKUs");
        }
    }

    #[test]
    fn stock_holds_less_than_the_demand() {
        let plan = Plan::new(3, 1_000, &functions());
        let stock: u64 = plan.stock.iter().sum();
        let demand: u64 = plan
            .orders
            .iter()
            .flat_map(|o| o.lines.iter().map(|(_, quantity)| quantity))
            .sum();
        assert!(stock < demand, "stock {stock}, demand {demand}");
        assert!(stock * 2 > demand, "stock {stock}, demand {demand}");
    }
}
