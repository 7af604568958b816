//! The fault campaign (`cargo xtask chaos`, the `faults` test tier): places
//! many orders on a running local cloud from concurrent clients while a
//! seeded schedule fails every function in every way the local cloud can,
//! then acts as the operator until nothing changes, then checks DESIGN.md's
//! five invariants from every service's records.
//!
//! The phases, each in its own function below:
//!
//! 1. **Stock**: fresh SKUs, named after the run, stocked as the plan says.
//! 2. **Place**: `clients` workers take the plan's orders in turn; before
//!    order *n* the faults scheduled for *n* are set. Each customer places
//!    one order (the API caps orders in flight per customer), some send the
//!    same POST again or twice at once, and every client retries 5xx, 409,
//!    429 and lost answers with the same `Idempotency-Key`.
//! 3. **Let it run**: until no execution of the campaign is RUNNING, with
//!    the faults still set; then every fault is cleared.
//! 4. **Operate**: redrive every FAILED, TIMED_OUT or ABORTED execution and
//!    every dead-letter queue, wait, and again, until a round finds nothing
//!    to do. Meanwhile the first terminal status each customer reads is kept.
//! 5. **Check**: [`check::check`] over every order's records, the provider's
//!    ledger and every SKU's stock.
//!
//! Everything goes through the local cloud's HTTP endpoints, so the
//! campaign runs against `cargo xtask up` as well as against the cloud the
//! test tier starts.

pub mod check;
pub mod client;
pub mod plan;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use futures::StreamExt as _;
use serde_json::{Value, json};

use check::{OrderFacts, SkuFacts, Violation};
use client::{CloudClient, Placed};
use plan::{Plan, PlannedOrder, Resend};

/// What a campaign does.
#[derive(Debug, Clone)]
pub struct Options {
    /// The local cloud, e.g. `http://127.0.0.1:4000`.
    pub url: String,
    /// How many orders.
    pub orders: usize,
    /// The seed of the plan.
    pub seed: u64,
    /// Concurrent clients.
    pub clients: usize,
    /// Orders placed per second at most, across all clients. The local
    /// cloud's shipping queue is moto, whose ReceiveMessage walks the whole
    /// queue: orders arriving faster than `ship` drains them grow the queue,
    /// each receive slows, ShipOrder's heartbeats lapse and resend, and the
    /// backlog feeds itself (seen at 25 orders/s on two cores). SQS has no
    /// such limit; the campaign is about faults, not load.
    pub rate: f64,
    /// Names this run's SKUs, customers and keys, so runs on one cloud
    /// never share them.
    pub run_tag: String,
    /// How long phases 3 and 4 may each take before the campaign reports
    /// what is still unfinished.
    pub settle: Duration,
}

/// What a campaign did and found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The seed.
    pub seed: u64,
    /// Orders planned.
    pub orders: usize,
    /// SKUs stocked.
    pub skus: usize,
    /// Entries of the fault schedule.
    pub faults_scheduled: usize,
    /// Invocations the local cloud failed, by function and mode.
    pub injected: BTreeMap<String, BTreeMap<String, u64>>,
    /// Orders by the status the customer reads at the end.
    pub outcomes: BTreeMap<String, usize>,
    /// Rejected orders by reason.
    pub reasons: BTreeMap<String, usize>,
    /// POSTs a client sent again after an error or no answer.
    pub client_retries: u64,
    /// Orders whose POST was sent again after the answer, or twice at once.
    pub resends: usize,
    /// Executions redriven by the operator.
    pub execution_redrives: usize,
    /// Dead-letter queue redrives that moved messages.
    pub dead_letter_redrives: usize,
    /// Operator rounds until a round found nothing to do.
    pub operator_rounds: usize,
    /// Wall time.
    pub elapsed: Duration,
    /// Every broken invariant.
    pub violations: Vec<Violation>,
}

/// What happened to one planned order on the client's side.
#[derive(Debug)]
struct Placement {
    /// The planned order's index.
    index: usize,
    token: String,
    /// The order ids the answers named (one, unless idempotency broke).
    order_ids: Vec<String>,
    retries: u64,
    /// Answers that were neither an order nor a retriable error.
    problems: Vec<String>,
    resent: bool,
}

/// Runs a campaign; `Err` only when the local cloud cannot be used at all
/// (a broken invariant is a [`Violation`] in the report).
pub async fn run(options: &Options) -> Result<Report> {
    if options.orders == 0 || options.clients == 0 {
        bail!("a campaign needs at least one order and one client");
    }
    let started = Instant::now();
    let client = CloudClient::new(&options.url)?;
    let functions = client
        .functions()
        .await
        .with_context(|| format!("is the local cloud running at {}?", options.url))?;
    let plan = Plan::new(options.seed, options.orders, &functions);
    let skus: Vec<String> = (0..plan.stock.len())
        .map(|k| format!("CHAOS-{}-{k:03}", options.run_tag))
        .collect();
    let injected_before = client.injected().await?;
    progress(&format!(
        "seed {}: {} orders on {} SKUs, {} faults scheduled on {} functions",
        options.seed,
        plan.orders.len(),
        skus.len(),
        plan.faults.len(),
        functions.len()
    ));

    for (sku, units) in skus.iter().zip(&plan.stock) {
        client.set_stock(sku, *units).await?;
    }
    let placements = place_all(&client, options, &plan, &skus).await?;
    let ours: HashSet<String> = placements
        .iter()
        .flat_map(|placement| placement.order_ids.iter().cloned())
        .collect();
    progress(&format!(
        "placed {} orders in {:.0} s; letting them run with the faults set",
        ours.len(),
        started.elapsed().as_secs_f64()
    ));
    wait_until_none_running(&client, &ours, options.settle).await?;
    client.clear_faults().await?;
    let tokens: HashMap<String, String> = placements
        .iter()
        .flat_map(|placement| {
            placement
                .order_ids
                .iter()
                .map(|id| (id.clone(), placement.token.clone()))
        })
        .collect();
    let operator = operate(&client, &tokens, options.settle).await?;
    progress(&format!(
        "operator done after {} rounds ({} execution redrives, {} dead-letter redrives); checking",
        operator.rounds, operator.execution_redrives, operator.dead_letter_redrives
    ));

    let facts = gather(&client, &tokens, &operator).await?;
    let mut sku_facts = Vec::with_capacity(skus.len());
    for (sku, initial) in skus.iter().zip(&plan.stock) {
        let (available, reserved) = client.stock(sku).await?;
        sku_facts.push(SkuFacts {
            sku: sku.clone(),
            initial: *initial,
            available,
            reserved,
        });
    }
    let mut violations = check::check(&facts, &sku_facts);
    violations.extend(client_violations(&placements));
    violations.sort_by(|a, b| (a.invariant, &a.subject).cmp(&(b.invariant, &b.subject)));

    let mut report = Report {
        seed: options.seed,
        orders: plan.orders.len(),
        skus: skus.len(),
        faults_scheduled: plan.faults.len(),
        injected: injected_since(&injected_before, &client.injected().await?),
        client_retries: placements.iter().map(|p| p.retries).sum(),
        resends: placements.iter().filter(|p| p.resent).count(),
        execution_redrives: operator.execution_redrives,
        dead_letter_redrives: operator.dead_letter_redrives,
        operator_rounds: operator.rounds,
        violations,
        ..Report::default()
    };
    for order in &facts {
        let status = order.view["status"].as_str().unwrap_or("(none)").to_owned();
        *report.outcomes.entry(status).or_default() += 1;
        if let Some(reason) = order.view["reason"].as_str() {
            *report.reasons.entry(reason.to_owned()).or_default() += 1;
        }
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

fn progress(line: &str) {
    eprintln!("chaos: {line}");
}

/// Phase 2: every planned order, from `options.clients` workers.
async fn place_all(
    client: &CloudClient,
    options: &Options,
    plan: &Plan,
    skus: &[String],
) -> Result<Vec<Placement>> {
    let next = AtomicUsize::new(0);
    let started = tokio::time::Instant::now();
    let rate = if options.rate.is_finite() && options.rate > 0.0 {
        options.rate
    } else {
        f64::INFINITY
    };
    // The schedule's cursor; the lock also keeps faults set in plan order.
    let faults_set = tokio::sync::Mutex::new(0_usize);
    let worker = || async {
        let mut placed = Vec::new();
        loop {
            let index = next.fetch_add(1, Ordering::SeqCst);
            let Some(order) = plan.orders.get(index) else {
                return Ok::<_, anyhow::Error>(placed);
            };
            if rate.is_finite() {
                let due = started + Duration::from_secs_f64(index as f64 / rate);
                tokio::time::sleep_until(due).await;
            }
            {
                let mut cursor = faults_set.lock().await;
                while let Some(fault) = plan.faults.get(*cursor)
                    && fault.before_order <= index
                {
                    client
                        .set_fault(&json!({
                            "function": fault.function,
                            "mode": fault.mode,
                            "count": fault.count,
                            "delayMs": fault.delay_ms,
                        }))
                        .await?;
                    *cursor += 1;
                }
            }
            placed.push(place_one(client, options, order, skus).await?);
        }
    };
    let results = futures::future::join_all((0..options.clients).map(|_| worker())).await;
    let mut placements = Vec::with_capacity(plan.orders.len());
    for result in results {
        placements.extend(result?);
    }
    placements.sort_by_key(|placement| placement.index);
    Ok(placements)
}

/// One customer's order, sent once, again, or twice at once.
async fn place_one(
    client: &CloudClient,
    options: &Options,
    order: &PlannedOrder,
    skus: &[String],
) -> Result<Placement> {
    let customer = format!("chaos-{}-{}", options.run_tag, order.index);
    let token = client.token(&customer).await?;
    let key = format!("{customer}-key");
    let body = json!({
        "items": order.lines.iter().map(|(sku, quantity)| json!({"sku": skus[*sku], "quantity": quantity})).collect::<Vec<_>>(),
        "paymentMethod": order.payment_method,
        "shippingAddress": {"name": "Chaos Customer", "line1": "1 Fault Lane", "city": "Dublin", "postalCode": "D01 F5P2", "country": "IE"},
    });
    let answers = match order.resend {
        Resend::Once => vec![client.place(&token, &key, &body).await],
        Resend::Again => {
            let first = client.place(&token, &key, &body).await;
            vec![first, client.place(&token, &key, &body).await]
        }
        Resend::Concurrently => {
            let (one, two) = tokio::join!(
                client.place(&token, &key, &body),
                client.place(&token, &key, &body)
            );
            vec![one, two]
        }
    };
    let mut placement = Placement {
        index: order.index,
        token,
        order_ids: Vec::new(),
        retries: 0,
        problems: Vec::new(),
        resent: order.resend != Resend::Once,
    };
    for answer in answers {
        match answer {
            Placed::Order { order_id, retries } => {
                placement.retries += u64::from(retries);
                if !placement.order_ids.contains(&order_id) {
                    placement.order_ids.push(order_id);
                }
            }
            Placed::Refused { status, body } => {
                placement.problems.push(format!("refused {status}: {body}"));
            }
            Placed::GaveUp { last } => {
                placement
                    .problems
                    .push(format!("no order after every retry; last: {last}"));
            }
        }
    }
    Ok(placement)
}

/// Phase 3: waits until no execution of `ours` is RUNNING.
async fn wait_until_none_running(
    client: &CloudClient,
    ours: &HashSet<String>,
    limit: Duration,
) -> Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        let running = client
            .executions()
            .await?
            .into_iter()
            .filter(|(name, status)| ours.contains(name) && status == "RUNNING")
            .count();
        if running == 0 {
            return Ok(());
        }
        if Instant::now() >= deadline {
            progress(&format!(
                "{running} executions still RUNNING after {} s; operating anyway",
                limit.as_secs()
            ));
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// What the operator did, and the terminal statuses customers read.
#[derive(Debug, Default)]
struct Operator {
    rounds: usize,
    execution_redrives: usize,
    dead_letter_redrives: usize,
    first_terminal: HashMap<String, String>,
    /// Redrives per execution, so one that fails every time is given up on.
    redrives_of: HashMap<String, usize>,
    /// Stopped executions whose order did not show the stall (checked before
    /// each redrive), per order: invariant 3's "nothing waits unseen".
    stops_unseen: HashMap<String, usize>,
}

/// How long the operator waits for a stopped execution to show on its
/// order: the watcher gets the event at once, and Lambda's two retries of
/// a failed delivery come a minute and two later (shortened by the time
/// scale: 9 s at 20x).
const STALL_SHOWS_WITHIN: Duration = Duration::from_secs(30);

/// An execution still failing after this many redrives (with the faults
/// cleared) will not finish by redriving: the operator leaves it, and the
/// check reports it.
const REDRIVES_PER_EXECUTION: usize = 3;

/// Phase 4: redrive until a round finds nothing to do (an execution that
/// keeps failing is redriven [`REDRIVES_PER_EXECUTION`] times at most).
async fn operate(
    client: &CloudClient,
    tokens: &HashMap<String, String>,
    limit: Duration,
) -> Result<Operator> {
    let deadline = Instant::now() + limit;
    let mut operator = Operator::default();
    loop {
        operator.rounds += 1;
        let executions: HashMap<String, String> = client
            .executions()
            .await?
            .into_iter()
            .filter(|(name, _)| tokens.contains_key(name))
            .collect();
        read_terminal_statuses(client, tokens, &executions, &mut operator).await?;
        let stopped: Vec<&String> = executions
            .iter()
            .filter(|(name, status)| {
                matches!(status.as_str(), "FAILED" | "TIMED_OUT" | "ABORTED")
                    && operator.redrives_of.get(*name).copied().unwrap_or(0)
                        < REDRIVES_PER_EXECUTION
            })
            .map(|(name, _)| name)
            .collect();
        for order_id in unseen_stops(client, tokens, &stopped).await? {
            *operator.stops_unseen.entry(order_id).or_default() += 1;
        }
        let mut acted = false;
        for (name, status) in &executions {
            let redriven = operator.redrives_of.entry(name.clone()).or_default();
            if matches!(status.as_str(), "FAILED" | "TIMED_OUT" | "ABORTED")
                && *redriven < REDRIVES_PER_EXECUTION
            {
                *redriven += 1;
                match client.redrive_execution(name).await {
                    Ok(()) => operator.execution_redrives += 1,
                    Err(e) => progress(&format!("redrive of {name} refused: {e:#}")),
                }
                acted = true;
            }
        }
        for (queue, visible) in client.dead_letter_queues().await? {
            if visible > 0 {
                client.redrive_queue(&queue).await?;
                operator.dead_letter_redrives += 1;
                acted = true;
            }
        }
        let running = executions.values().any(|status| status == "RUNNING");
        if !acted && !running {
            return Ok(operator);
        }
        if Instant::now() >= deadline {
            progress(&format!(
                "the operator gave up after {} s with work left",
                limit.as_secs()
            ));
            return Ok(operator);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Of the orders whose executions stopped, those that do not show the stall
/// to their customer within [`STALL_SHOWS_WITHIN`], even after the
/// watcher's failed events are replayed (the runbook's step for its
/// dead-letter queue).
async fn unseen_stops<'a>(
    client: &'a CloudClient,
    tokens: &'a HashMap<String, String>,
    stopped: &[&'a String],
) -> Result<Vec<String>> {
    let shows_stall = |order_id: &'a String| async move {
        let deadline = Instant::now() + STALL_SHOWS_WITHIN;
        loop {
            let view = client.order(&tokens[order_id], order_id).await?;
            // A terminal order is resolved (a late redrive or the event
            // raced): nothing to show.
            if !view["stalled"].is_null()
                || matches!(view["status"].as_str(), Some("COMPLETED" | "REJECTED"))
            {
                return Ok::<_, anyhow::Error>(None);
            }
            if Instant::now() >= deadline {
                return Ok(Some(order_id.clone()));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    };
    let checked: Vec<Result<Option<String>>> = futures::stream::iter(stopped)
        .map(|order_id| shows_stall(order_id))
        .buffer_unordered(16)
        .collect()
        .await;
    let mut unseen: Vec<String> = checked
        .into_iter()
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    if unseen.is_empty() {
        return Ok(unseen);
    }
    for (queue, _) in client.failed_event_queues().await? {
        if let Err(e) = client.redrive_queue(&queue).await {
            progress(&format!("replaying the failed events of {queue}: {e:#}"));
        }
    }
    let mut still = Vec::new();
    for order_id in unseen.drain(..) {
        let view = client.order(&tokens[&order_id], &order_id).await?;
        if view["stalled"].is_null() {
            progress(&format!(
                "{order_id}: its execution stopped and the order does not say so"
            ));
            still.push(order_id);
        }
    }
    Ok(still)
}

/// Reads, once, the status of every order whose execution has succeeded,
/// and keeps the first terminal one: invariant 5 says it never changes.
async fn read_terminal_statuses(
    client: &CloudClient,
    tokens: &HashMap<String, String>,
    executions: &HashMap<String, String>,
    operator: &mut Operator,
) -> Result<()> {
    let unread: Vec<&String> = executions
        .iter()
        .filter(|(name, status)| {
            status.as_str() == "SUCCEEDED" && !operator.first_terminal.contains_key(*name)
        })
        .map(|(name, _)| name)
        .collect();
    let read: Vec<Result<(String, Value)>> = futures::stream::iter(unread)
        .map(|order_id| async move {
            let view = client.order(&tokens[order_id], order_id).await?;
            Ok((order_id.clone(), view))
        })
        .buffer_unordered(16)
        .collect()
        .await;
    for result in read {
        let (order_id, view) = result?;
        if let Some(status @ ("COMPLETED" | "REJECTED")) = view["status"].as_str() {
            operator.first_terminal.insert(order_id, status.to_owned());
        }
    }
    Ok(())
}

/// Phase 5's facts: every order's view, records and execution.
async fn gather(
    client: &CloudClient,
    tokens: &HashMap<String, String>,
    operator: &Operator,
) -> Result<Vec<OrderFacts>> {
    let executions: HashMap<String, String> = client.executions().await?.into_iter().collect();
    let executions = &executions;
    let gathered: Vec<Result<OrderFacts>> = futures::stream::iter(tokens.iter())
        .map(|(order_id, token)| async move {
            Ok(OrderFacts {
                order_id: order_id.clone(),
                execution: executions.get(order_id).cloned(),
                view: client.order(token, order_id).await?,
                first_terminal: operator.first_terminal.get(order_id).cloned(),
                stops_unseen: operator.stops_unseen.get(order_id).copied().unwrap_or(0),
                records: client.records(order_id).await?,
            })
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let mut facts = gathered.into_iter().collect::<Result<Vec<_>>>()?;
    facts.sort_by(|a, b| a.order_id.cmp(&b.order_id));
    Ok(facts)
}

/// What the clients saw that breaks an invariant by itself: an order the
/// customer never got an id for is lost (3); one POST that made two orders
/// could charge twice (2).
fn client_violations(placements: &[Placement]) -> Vec<Violation> {
    let mut violations = Vec::new();
    for placement in placements {
        let subject = || format!("order #{} of the plan", placement.index);
        if placement.order_ids.is_empty() {
            violations.push(Violation {
                invariant: 3,
                subject: subject(),
                what: format!("the customer never got an order: {:?}", placement.problems),
            });
        }
        if placement.order_ids.len() > 1 {
            violations.push(Violation {
                invariant: 2,
                subject: subject(),
                what: format!("one POST made orders {:?}", placement.order_ids),
            });
        }
    }
    violations
}

/// `after - before`, for counters that only grow.
fn injected_since(before: &Value, after: &Value) -> BTreeMap<String, BTreeMap<String, u64>> {
    let mut injected = BTreeMap::new();
    for (function, modes) in after.as_object().into_iter().flatten() {
        for (mode, count) in modes.as_object().into_iter().flatten() {
            let earlier = before[function][mode].as_u64().unwrap_or(0);
            let now = count.as_u64().unwrap_or(0);
            if now > earlier {
                injected
                    .entry(function.clone())
                    .or_insert_with(BTreeMap::new)
                    .insert(mode.clone(), now - earlier);
            }
        }
    }
    injected
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "seed {}: {} orders, {} SKUs, {} faults scheduled, {:.0} s",
            self.seed,
            self.orders,
            self.skus,
            self.faults_scheduled,
            self.elapsed.as_secs_f64()
        )?;
        let modes: Vec<String> = plan::MODES
            .iter()
            .map(|(mode, _)| mode_name(*mode))
            .collect();
        writeln!(f, "faults injected (invocations, function x kind):")?;
        write!(f, "  {:<12}", "function")?;
        for mode in &modes {
            write!(f, " {mode:>11}")?;
        }
        writeln!(f)?;
        let mut totals = vec![0_u64; modes.len()];
        for (function, by_mode) in &self.injected {
            write!(f, "  {function:<12}")?;
            for (column, mode) in modes.iter().enumerate() {
                let count = by_mode.get(mode).copied().unwrap_or(0);
                totals[column] += count;
                write!(f, " {count:>11}")?;
            }
            writeln!(f)?;
        }
        write!(f, "  {:<12}", "total")?;
        for total in &totals {
            write!(f, " {total:>11}")?;
        }
        writeln!(f, "  (all: {})", totals.iter().sum::<u64>())?;
        let outcomes: Vec<String> = self
            .outcomes
            .iter()
            .map(|(status, count)| format!("{status} {count}"))
            .collect();
        let reasons: Vec<String> = self
            .reasons
            .iter()
            .map(|(reason, count)| format!("{reason} {count}"))
            .collect();
        writeln!(
            f,
            "outcomes: {} (rejected because: {})",
            outcomes.join(", "),
            reasons.join(", ")
        )?;
        writeln!(
            f,
            "clients: {} retried POSTs, {} orders sent twice",
            self.client_retries, self.resends
        )?;
        writeln!(
            f,
            "operator: {} execution redrives, {} dead-letter redrives, {} rounds",
            self.execution_redrives, self.dead_letter_redrives, self.operator_rounds
        )?;
        for invariant in 1..=5 {
            let count = self
                .violations
                .iter()
                .filter(|v| v.invariant == invariant)
                .count();
            writeln!(
                f,
                "invariant {invariant} ({}): {count} violations",
                check::invariant_name(invariant)
            )?;
        }
        for violation in self.violations.iter().take(50) {
            writeln!(f, "  {violation}")?;
        }
        if self.violations.len() > 50 {
            writeln!(f, "  ... and {} more", self.violations.len() - 50)?;
        }
        Ok(())
    }
}

/// A mode's name as the fault API spells it (its serde name, the same key
/// `GET /local/faults` reports `injected` under).
fn mode_name(mode: crate::faults::FaultMode) -> String {
    match serde_json::to_value(mode) {
        Ok(Value::String(name)) => name,
        _ => format!("{mode:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injected_counts_are_the_growth_since_the_run_began() {
        let before = json!({"charge": {"crash": 2}, "ship": {"transient": 1}});
        let after = json!({"charge": {"crash": 5, "delay": 1}, "ship": {"transient": 1}});
        let since = injected_since(&before, &after);
        assert_eq!(
            since,
            BTreeMap::from([(
                "charge".to_owned(),
                BTreeMap::from([("crash".to_owned(), 3), ("delay".to_owned(), 1)])
            )])
        );
    }

    #[test]
    fn a_lost_order_and_a_doubled_order_are_violations() {
        let placement = |index: usize, ids: &[&str]| Placement {
            index,
            token: String::new(),
            order_ids: ids.iter().map(|id| (*id).to_owned()).collect(),
            retries: 0,
            problems: vec!["refused 400: bad".to_owned()],
            resent: false,
        };
        let violations = client_violations(&[
            placement(0, &["a"]),
            placement(1, &[]),
            placement(2, &["b", "c"]),
        ]);
        let found: Vec<(u8, &str)> = violations
            .iter()
            .map(|v| (v.invariant, v.subject.as_str()))
            .collect();
        assert_eq!(
            found,
            [(3, "order #1 of the plan"), (2, "order #2 of the plan")]
        );
        assert!(violations[0].what.contains("refused 400"));
    }

    #[test]
    fn the_report_shows_every_kind_and_every_invariant() {
        let report = Report {
            seed: 9,
            orders: 2,
            injected: BTreeMap::from([(
                "charge".to_owned(),
                BTreeMap::from([("crash".to_owned(), 4)]),
            )]),
            outcomes: BTreeMap::from([("COMPLETED".to_owned(), 2)]),
            ..Report::default()
        };
        let text = report.to_string();
        for needed in [
            "seed 9",
            "transient",
            "service",
            "charge",
            "(all: 4)",
            "COMPLETED 2",
            "invariant 5 (the customer reads the truth): 0 violations",
        ] {
            assert!(text.contains(needed), "{needed:?} in:\n{text}");
        }
    }
}
