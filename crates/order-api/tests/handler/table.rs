//! The route table against the fakes, and its coverage: every event file,
//! route, status and problem type.

use std::collections::BTreeSet;

use order_api::problem::ProblemType;
use order_api::routes::ROUTES;

use crate::support::cases::{CASES, Given, run_all};
use crate::support::{FakeWorld, event_names};

#[tokio::test]
async fn every_case_of_the_route_table_holds_against_the_fakes() {
    let produced = run_all(FakeWorld::new).await;
    println!(
        "route table: {} cases passed against the fakes",
        produced.len()
    );

    let statuses: BTreeSet<u16> = produced.iter().map(|p| p.answer.status).collect();
    assert_eq!(
        statuses,
        BTreeSet::from([200, 202, 400, 401, 404, 405, 413, 415, 422, 429, 503]),
        "status codes the table covers"
    );
    let problems: BTreeSet<&str> = produced
        .iter()
        .filter_map(|p| p.answer.problem_slug())
        .collect();
    let all: BTreeSet<&str> = ProblemType::ALL.iter().map(|kind| kind.slug()).collect();
    assert_eq!(problems, all, "every problem type is produced by some case");
    let operations: BTreeSet<&str> = produced
        .iter()
        .filter_map(|p| p.operation.map(|o| o.operation_id()))
        .collect();
    let routed: BTreeSet<&str> = ROUTES.iter().map(|r| r.operation.operation_id()).collect();
    assert_eq!(operations, routed, "every route is exercised");
}

#[test]
fn every_event_file_is_in_the_table_and_every_case_has_its_file() {
    let mut used = BTreeSet::new();
    for case in CASES {
        used.insert(case.event.to_owned());
        for given in case.given {
            match given {
                Given::Sent(event)
                | Given::Rejected(event, _)
                | Given::Completed(event)
                | Given::StalledAfterReserve(event) => {
                    used.insert((*event).to_owned());
                }
                Given::Down(_) | Given::AtTheCap(_) => {}
            }
        }
    }
    let files: BTreeSet<String> = event_names().into_iter().collect();
    assert_eq!(
        used, files,
        "events/api/ and the case table name the same files"
    );
    let mut seen = BTreeSet::new();
    for case in CASES {
        assert!(
            seen.insert(case.event),
            "{} is the subject of two cases",
            case.event
        );
    }
}
