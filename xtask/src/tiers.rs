//! The test tiers of `cargo xtask test`, as data.
//!
//! A tier is a name, the emulators it needs, and what it runs. Adding a tier
//! is adding one entry to [`TIERS`]; they run in this order. Plain
//! `cargo test` (the `unit` tier) needs no emulator or service: the tests
//! that talk to an emulator sit behind saga-aws's `emulator-tests` feature
//! and run only in their own tiers, with the emulator started.

use anyhow::{Result, bail};

use crate::emulators::Emulator;

/// One tier of the test command.
#[derive(Debug)]
pub struct Tier {
    pub name: &'static str,
    /// What the tier proves, for the `--tier` error message.
    pub about: &'static str,
    /// Started (once per run) before the tier; their endpoints reach its tests
    /// through the AWS SDK's `AWS_ENDPOINT_URL_<SERVICE>` variables, and
    /// localstripe's through `STRIPE_API_BASE`.
    pub emulators: &'static [Emulator],
    /// Installed before the tier; their paths reach its tests as variables.
    pub tools: &'static [Tool],
    pub run: TierRun,
}

/// A tool a tier's tests drive, installed by xtask before the tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// Debian's Chromium and the pinned playwright-core (console browser test).
    Browser,
    /// The pinned schemathesis, its `st` executable in `SCHEMATHESIS`.
    Schemathesis,
    /// A Python with the pinned boto3 (the emulators' venv), in `BOTO3_PYTHON`.
    Boto3,
}

/// What a tier runs.
#[derive(Debug)]
pub enum TierRun {
    /// One `cargo test` command whose libtest summary lines are counted; it
    /// runs with `--no-fail-fast`, so the count is the whole count. The tier
    /// fails on any failed test and when it ran no test at all.
    CargoTests(&'static [&'static str]),
    /// Cargo commands that each pass or fail as a whole, one check each.
    CargoChecks(&'static [Check]),
    /// The infrastructure checks of `iac::run` (template, state machine
    /// definition, and `sam build` with `--sam-build`), one check each.
    Iac,
    /// The `asl-conformance` runner over the vendored AWS recordings; fails
    /// when its pass count drops below the floor kept beside them.
    Conformance {
        cases: &'static str,
        floor_file: &'static str,
    },
}

/// A named cargo command that passes when it exits successfully.
#[derive(Debug)]
pub struct Check {
    pub name: &'static str,
    pub cargo_args: &'static [&'static str],
}

pub const TIERS: &[Tier] = &[
    Tier {
        name: "lint",
        about: "rustfmt and clippy, warnings denied",
        emulators: &[],
        tools: &[],
        run: TierRun::CargoChecks(&[
            Check {
                name: "rustfmt",
                cargo_args: &["fmt", "--all", "--check"],
            },
            Check {
                name: "clippy",
                cargo_args: &[
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ],
            },
            // The emulator tests sit behind a feature that `--workspace` leaves off;
            // every crate that has one is listed.
            Check {
                name: "clippy (emulator tests)",
                cargo_args: &[
                    "clippy",
                    "--package",
                    "saga-aws",
                    "--package",
                    "order-api",
                    "--package",
                    "saga-local",
                    "--package",
                    "saga-stripe",
                    "--package",
                    "saga-wiring",
                    "--all-targets",
                    "--features",
                    "emulator-tests",
                    "--",
                    "-D",
                    "warnings",
                ],
            },
        ]),
    },
    Tier {
        name: "unit",
        about: "plain `cargo test`: every crate against in-memory fakes, no external process",
        emulators: &[],
        tools: &[],
        // Library, binary and integration tests; no doc tests: the workspace
        // keeps its examples in tests/, and rustdoc hangs under libfaketime,
        // with which the tier is checked to pass on any date.
        run: TierRun::CargoTests(&["test", "--workspace", "--lib", "--bins", "--tests"]),
    },
    Tier {
        name: "dynamodb",
        about: "saga-aws's stores against DynamoDB Local",
        emulators: &[Emulator::DynamoDbLocal],
        tools: &[],
        run: TierRun::CargoTests(&[
            "test",
            "--package",
            "saga-aws",
            "--features",
            "emulator-tests",
            "--test",
            "dynamodb",
        ]),
    },
    Tier {
        name: "sqs",
        about: "SQS queues and their dead-letter redrive against moto",
        emulators: &[Emulator::Moto],
        tools: &[],
        run: TierRun::CargoTests(&[
            "test",
            "--package",
            "saga-aws",
            "--features",
            "emulator-tests",
            "--test",
            "sqs",
        ]),
    },
    Tier {
        name: "payments",
        about: "the Stripe payment adapter (saga-stripe) against localstripe behind \
                infra/localstripe/serve.py, its circuit breaker on DynamoDB Local, and its \
                key read from an SSM SecureString (moto)",
        emulators: &[
            Emulator::DynamoDbLocal,
            Emulator::LocalStripe,
            Emulator::Moto,
        ],
        tools: &[],
        run: TierRun::CargoTests(&[
            "test",
            "--package",
            "saga-stripe",
            "--package",
            "saga-wiring",
            "--features",
            "saga-stripe/emulator-tests saga-wiring/emulator-tests",
            "--test",
            "localstripe",
            "--test",
            "stripe_key",
        ]),
    },
    Tier {
        name: "api",
        about: "the order API through its handler against DynamoDB Local",
        emulators: &[Emulator::DynamoDbLocal],
        tools: &[],
        run: TierRun::CargoTests(&[
            "test",
            "--package",
            "order-api",
            "--features",
            "emulator-tests",
            "--test",
            "emulator",
        ]),
    },
    Tier {
        name: "e2e",
        about: "the whole saga through the local cloud over HTTP, the aws-sdk-sfn wire \
                protocol, and the console in headless Chromium",
        emulators: &[
            Emulator::DynamoDbLocal,
            Emulator::Moto,
            Emulator::LocalStripe,
        ],
        tools: &[Tool::Browser],
        run: TierRun::CargoTests(&[
            "test",
            "--package",
            "saga-local",
            "--features",
            "emulator-tests",
            "--test",
            "e2e",
        ]),
    },
    Tier {
        name: "invoke",
        about: "every file in events/ through the local cloud's Lambda Invoke API with boto3, \
                and `cargo xtask invoke` once",
        emulators: &[Emulator::DynamoDbLocal, Emulator::Moto],
        tools: &[Tool::Boto3],
        run: TierRun::CargoTests(&[
            "test",
            "--package",
            "saga-local",
            "--features",
            "emulator-tests",
            "--test",
            "invoke",
        ]),
    },
    Tier {
        name: "contract",
        about: "schemathesis (every check, stateful phase) against the local cloud's HTTP API \
                and crates/order-api/openapi.yaml",
        emulators: &[Emulator::DynamoDbLocal, Emulator::Moto],
        tools: &[Tool::Schemathesis],
        run: TierRun::CargoTests(&[
            "test",
            "--package",
            "saga-local",
            "--features",
            "emulator-tests",
            "--test",
            "contract",
        ]),
    },
    Tier {
        name: "faults",
        about: "the fault campaign (saga-chaos): 300 orders per seed, seeds 1 and 2, every \
                fault kind on every function, then the five invariants",
        emulators: &[Emulator::DynamoDbLocal, Emulator::Moto],
        tools: &[],
        // One campaign at a time: two would share two cores and each other's
        // timeouts.
        run: TierRun::CargoTests(&[
            "test",
            "--package",
            "saga-local",
            "--features",
            "emulator-tests",
            "--test",
            "faults",
            "--",
            "--test-threads=1",
            // The campaign's report (faults injected, outcomes, redrives,
            // violations) belongs in the CI log.
            "--nocapture",
        ]),
    },
    Tier {
        name: "asl",
        about: "the States Language interpreter against executions recorded on AWS",
        emulators: &[],
        tools: &[],
        run: TierRun::Conformance {
            cases: "crates/asl/tests/data/cases.jsonl",
            floor_file: "crates/asl/tests/data/conformance-floor.txt",
        },
    },
    Tier {
        name: "iac",
        about: "SAM template and state machine lint (sam validate, cfn-lint, checkov, \
                asl-validator); `sam build` too with --sam-build",
        emulators: &[],
        tools: &[],
        run: TierRun::Iac,
    },
];

/// The tiers named in `names`, in table order; all tiers when `names` is empty.
pub fn select(names: &[String]) -> Result<Vec<&'static Tier>> {
    if let Some(unknown) = names
        .iter()
        .find(|name| !TIERS.iter().any(|tier| tier.name == name.as_str()))
    {
        let known: Vec<String> = TIERS
            .iter()
            .map(|tier| format!("  {:<10} {}", tier.name, tier.about))
            .collect();
        bail!(
            "unknown tier `{unknown}`; the tiers are:\n{}",
            known.join("\n")
        );
    }
    Ok(TIERS
        .iter()
        .filter(|tier| names.is_empty() || names.iter().any(|name| name == tier.name))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(tiers: &[&Tier]) -> Vec<&'static str> {
        tiers.iter().map(|tier| tier.name).collect()
    }

    #[test]
    fn tier_names_are_unique() {
        let mut seen = names(&TIERS.iter().collect::<Vec<_>>());
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), TIERS.len());
    }

    #[test]
    fn selects_in_table_order_whatever_the_argument_order() {
        let cases: &[(&[&str], &[&str])] = &[
            (
                &[],
                &[
                    "lint", "unit", "dynamodb", "sqs", "payments", "api", "e2e", "invoke",
                    "contract", "faults", "asl", "iac",
                ],
            ),
            (&["unit"], &["unit"]),
            (&["sqs", "unit"], &["unit", "sqs"]),
            (&["unit", "unit"], &["unit"]),
        ];
        for (asked, expected) in cases {
            let asked: Vec<String> = asked.iter().map(|name| (*name).to_owned()).collect();
            assert_eq!(
                names(&select(&asked).unwrap()),
                *expected,
                "asked: {asked:?}"
            );
        }
    }

    #[test]
    fn an_unknown_tier_is_an_error_that_lists_the_tiers() {
        let error = select(&["deploy".to_owned()]).unwrap_err().to_string();
        assert!(error.contains("unknown tier `deploy`"), "{error}");
        assert!(
            TIERS.iter().all(|tier| error.contains(tier.name)),
            "{error}"
        );
    }

    #[test]
    fn every_test_tier_is_a_cargo_test_command() {
        // `run_cargo_tests` adds --no-fail-fast right after `test`.
        for tier in TIERS {
            if let TierRun::CargoTests(args) = tier.run {
                assert_eq!(args.first(), Some(&"test"), "{}", tier.name);
            }
        }
    }

    #[test]
    fn the_unit_tier_needs_no_emulator() {
        let unit = TIERS.iter().find(|tier| tier.name == "unit").unwrap();
        assert!(unit.emulators.is_empty());
    }
}
