//! A state machine as a graph, laid out in ranks, and what one execution
//! did on it: the model behind the SVG of [`super::graph_svg`].
//!
//! The graph has a Start node, one node per top-level state and an End
//! node; its edges are each state's `Next`, its Choice rules and `Default`,
//! and its Catchers (states inside a Parallel branch or a Map processor are
//! not drawn). The layout is deterministic: a depth-first walk from Start
//! (edges in definition order) finds the edges that close a loop; over the
//! others a node's rank is its longest path from Start, and End sits below
//! everything. Within a rank, the states reachable without a Catch come
//! first, each rank in walk order, so the happy path is the first column and
//! the compensations stand beside it.
//!
//! The marks come from the execution's [`StepView`]s alone: the latest run
//! of a state decides its mark, and every state entered after a Catch fired
//! is compensating.

use std::collections::HashMap;

use asl::ExecutionStatus;
use asl::definition::{Catcher, StateKind, StateMachine, Transition};

use super::history::StepView;

/// What a node stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    /// Where every execution begins.
    Start,
    /// A state, with its `Type`.
    State(&'static str),
    /// Where a successful execution ends.
    End,
}

/// One box of the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The state's name (`Start` / `End` for those).
    pub name: String,
    /// What it is.
    pub kind: NodeKind,
}

/// How an edge leaves its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    /// `Next`, or the way into the first state and out of the last ones.
    Next,
    /// A Choice rule's `Next`.
    Choice,
    /// A Choice state's `Default`.
    Default,
    /// A Catcher's `Next`: taken only after an error.
    Catch,
}

/// One arrow of the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// Index of the node it leaves.
    pub from: usize,
    /// Index of the node it enters.
    pub to: usize,
    /// How it is taken.
    pub kind: EdgeKind,
    /// A Catcher's `ErrorEquals` (empty for the other kinds).
    pub errors: Vec<String>,
}

/// A state machine's top-level states and transitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graph {
    /// Start first, End last, the states between them sorted by name.
    pub nodes: Vec<Node>,
    /// The way into `StartAt`, then state by state (by name) each one's
    /// `Next` or rules, then its Catchers in definition order.
    pub edges: Vec<Edge>,
}

/// Where a transition goes, before node indices are known.
enum Target<'a> {
    State(&'a str),
    End,
}

impl Graph {
    /// The graph of `machine`'s top-level states.
    pub fn of(machine: &StateMachine) -> Self {
        let mut names: Vec<&str> = machine.states.keys().map(String::as_str).collect();
        names.sort_unstable();
        let mut nodes = vec![Node {
            name: "Start".to_owned(),
            kind: NodeKind::Start,
        }];
        nodes.extend(names.iter().map(|name| Node {
            name: (*name).to_owned(),
            kind: NodeKind::State(machine.states[*name].kind.type_name()),
        }));
        let end = nodes.len();
        nodes.push(Node {
            name: "End".to_owned(),
            kind: NodeKind::End,
        });
        let index: HashMap<&str, usize> =
            names.iter().enumerate().map(|(i, n)| (*n, i + 1)).collect();
        let mut edges = Vec::new();
        if let Some(&first) = index.get(machine.start_at.as_str()) {
            edges.push(Edge {
                from: 0,
                to: first,
                kind: EdgeKind::Next,
                errors: Vec::new(),
            });
        }
        for name in &names {
            let state = &machine.states[*name];
            for (target, kind, errors) in transitions(&state.kind, &state.transition, &state.catch)
            {
                let to = match target {
                    Target::End => Some(end),
                    Target::State(next) => index.get(next).copied(),
                };
                // A dangling `Next` cannot pass validation; nothing to draw.
                if let Some(to) = to {
                    edges.push(Edge {
                        from: index[name],
                        to,
                        kind,
                        errors,
                    });
                }
            }
        }
        Graph { nodes, edges }
    }

    /// Index of the state called `name`.
    fn state_index(&self, name: &str) -> Option<usize> {
        self.nodes
            .iter()
            .position(|n| n.name == name && matches!(n.kind, NodeKind::State(_)))
    }
}

/// A state's ways out, in definition order.
fn transitions<'a>(
    kind: &'a StateKind,
    transition: &'a Transition,
    catchers: &'a [Catcher],
) -> Vec<(Target<'a>, EdgeKind, Vec<String>)> {
    let mut out = Vec::new();
    match kind {
        StateKind::Choice { rules, default } => {
            for rule in rules {
                out.push((Target::State(&rule.next), EdgeKind::Choice, Vec::new()));
            }
            if let Some(default) = default {
                out.push((Target::State(default), EdgeKind::Default, Vec::new()));
            }
        }
        StateKind::Succeed | StateKind::Fail { .. } => {
            out.push((Target::End, EdgeKind::Next, Vec::new()));
        }
        _ => out.push(match transition {
            Transition::Next(next) => (Target::State(next), EdgeKind::Next, Vec::new()),
            Transition::End => (Target::End, EdgeKind::Next, Vec::new()),
        }),
    }
    for catcher in catchers {
        out.push((
            Target::State(&catcher.next),
            EdgeKind::Catch,
            catcher.error_equals.clone(),
        ));
    }
    out
}

/// Where each node sits: rank 0 is the top row, column 0 the left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Each node's rank, by node index.
    pub rank: Vec<usize>,
    /// Each node's column within its rank, by node index.
    pub column: Vec<usize>,
    /// Edges that close a loop (drawn around the side like long ones).
    pub back: Vec<bool>,
    /// Ranks in all.
    pub ranks: usize,
    /// Columns of the widest rank.
    pub columns: usize,
}

/// The walk of [`layout`]: visiting order and which edges close a loop.
struct Walk {
    /// Each node's position in the visiting order.
    preorder: Vec<usize>,
    /// Nodes, each after every node it leads to.
    postorder: Vec<usize>,
    /// By edge index.
    back: Vec<bool>,
}

/// Depth-first from node 0, then from each node not reached yet: edges in
/// order, one stack of (node, next edge to follow).
fn walk(graph: &Graph, outgoing: &[Vec<usize>]) -> Walk {
    let count = graph.nodes.len();
    let mut preorder = vec![usize::MAX; count];
    let mut on_stack = vec![false; count];
    let mut postorder = Vec::with_capacity(count);
    let mut back = vec![false; graph.edges.len()];
    let mut visited = 0;
    for root in 0..count {
        if preorder[root] != usize::MAX {
            continue;
        }
        preorder[root] = visited;
        visited += 1;
        on_stack[root] = true;
        let mut stack = vec![(root, 0)];
        while let Some((node, next)) = stack.last_mut() {
            let node = *node;
            let Some(&edge) = outgoing[node].get(*next) else {
                on_stack[node] = false;
                postorder.push(node);
                stack.pop();
                continue;
            };
            *next += 1;
            let to = graph.edges[edge].to;
            if on_stack[to] {
                back[edge] = true;
            } else if preorder[to] == usize::MAX {
                preorder[to] = visited;
                visited += 1;
                on_stack[to] = true;
                stack.push((to, 0));
            }
        }
    }
    Walk {
        preorder,
        postorder,
        back,
    }
}

/// Ranks by longest path over the edges that do not close a loop, End
/// below all; columns with the states reached without a Catch first.
pub fn layout(graph: &Graph) -> Layout {
    let count = graph.nodes.len();
    let mut outgoing = vec![Vec::new(); count];
    for (index, edge) in graph.edges.iter().enumerate() {
        outgoing[edge.from].push(index);
    }
    let walk = walk(graph, &outgoing);
    let mut rank = vec![0; count];
    // Reverse postorder is a topological order once back edges are left out.
    for &node in walk.postorder.iter().rev() {
        for &edge in &outgoing[node] {
            if !walk.back[edge] {
                let to = graph.edges[edge].to;
                rank[to] = rank[to].max(rank[node] + 1);
            }
        }
    }
    let end = graph.nodes.iter().position(|n| n.kind == NodeKind::End);
    if let Some(end) = end {
        rank[end] = (0..count)
            .filter(|&n| n != end)
            .map(|n| rank[n] + 1)
            .max()
            .unwrap_or(0);
    }
    let main = reached_without_catch(graph, &outgoing, &walk.back);
    let ranks = rank.iter().max().map_or(0, |r| r + 1);
    let mut column = vec![0; count];
    let mut columns = 0;
    for r in 0..ranks {
        let mut row: Vec<usize> = (0..count).filter(|&n| rank[n] == r).collect();
        row.sort_by_key(|&n| (!main[n], walk.preorder[n]));
        for (c, &n) in row.iter().enumerate() {
            column[n] = c;
        }
        columns = columns.max(row.len());
    }
    Layout {
        rank,
        column,
        back: walk.back,
        ranks,
        columns,
    }
}

/// Nodes reached from Start over edges that are neither Catchers nor loops.
fn reached_without_catch(graph: &Graph, outgoing: &[Vec<usize>], back: &[bool]) -> Vec<bool> {
    let mut reached = vec![false; graph.nodes.len()];
    let mut pending = vec![0];
    while let Some(node) = pending.pop() {
        if std::mem::replace(&mut reached[node], true) {
            continue;
        }
        for &edge in &outgoing[node] {
            if !back[edge] && graph.edges[edge].kind != EdgeKind::Catch {
                pending.push(graph.edges[edge].to);
            }
        }
    }
    reached
}

/// What happened at a node in one execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// The execution never entered it.
    NotVisited,
    /// Entered and left normally.
    Succeeded,
    /// Its error was caught: a Catcher sent the execution on.
    Caught,
    /// Entered after a Catch fired: undoing or rejecting.
    Compensating,
    /// The execution failed (or was stopped) here.
    Failed,
    /// The execution is in it now.
    Running,
}

impl Mark {
    /// Every mark, in the legend's order.
    pub const ALL: [Mark; 6] = [
        Mark::Succeeded,
        Mark::Caught,
        Mark::Compensating,
        Mark::Failed,
        Mark::Running,
        Mark::NotVisited,
    ];

    /// The CSS class (and `data-mark`) the page and the browser test use.
    pub fn class(self) -> &'static str {
        match self {
            Mark::NotVisited => "not-visited",
            Mark::Succeeded => "succeeded",
            Mark::Caught => "caught",
            Mark::Compensating => "compensating",
            Mark::Failed => "failed",
            Mark::Running => "running",
        }
    }

    /// What the legend says.
    pub fn label(self) -> &'static str {
        match self {
            Mark::NotVisited => "not visited",
            Mark::Succeeded => "succeeded",
            Mark::Caught => "failed, error caught",
            Mark::Compensating => "compensating (after a Catch)",
            Mark::Failed => "failed: the execution stopped here",
            Mark::Running => "in progress",
        }
    }
}

/// One node in one execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeRun {
    /// What its latest run did.
    pub mark: Mark,
    /// Time spent in it over all its runs; `None` when not visited or while
    /// its only run goes on.
    pub duration_ms: Option<u64>,
    /// How often it was entered (more than once after a redrive or in a loop).
    pub runs: usize,
    /// Attempts after the first, over all runs.
    pub retries: usize,
}

/// One execution drawn on a graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marking {
    /// By node index.
    pub nodes: Vec<NodeRun>,
    /// By edge index: whether the execution went that way.
    pub taken: Vec<bool>,
}

/// Marks the nodes and edges of `graph` by what `steps` (one execution's
/// history, grouped) did; `status` is the execution's.
pub fn mark(graph: &Graph, steps: &[StepView], status: ExecutionStatus) -> Marking {
    let not_visited = NodeRun {
        mark: Mark::NotVisited,
        duration_ms: None,
        runs: 0,
        retries: 0,
    };
    let mut nodes = vec![not_visited; graph.nodes.len()];
    let mut taken = vec![false; graph.edges.len()];
    nodes[0].mark = Mark::Succeeded;
    let mut after_catch = false;
    let mut previous: Option<(usize, &StepView)> = None;
    for step in steps {
        // States of a Parallel branch or a Map processor are not drawn.
        let Some(node) = graph.state_index(&step.name) else {
            continue;
        };
        let run = &mut nodes[node];
        run.mark = match step.status.as_str() {
            "FAILED" => Mark::Failed,
            "RUNNING" if status == ExecutionStatus::Running => Mark::Running,
            "RUNNING" => Mark::Failed,
            _ if step.caught() => Mark::Caught,
            _ if after_catch => Mark::Compensating,
            _ => Mark::Succeeded,
        };
        run.runs += 1;
        run.retries += step.attempts.len().saturating_sub(1);
        if let Some(ms) = step.duration_ms {
            run.duration_ms = Some(run.duration_ms.unwrap_or(0) + ms);
        }
        let from = previous.map_or(Some((0, false)), |(n, s)| {
            (n != node).then(|| (n, s.caught()))
        });
        if let Some((from, caught)) = from {
            take(graph, &mut taken, from, node, caught);
        }
        after_catch |= step.caught();
        previous = Some((node, step));
    }
    if status == ExecutionStatus::Succeeded
        && let (Some((last, _)), Some(end)) = (
            previous,
            graph.nodes.iter().position(|n| n.kind == NodeKind::End),
        )
    {
        take(graph, &mut taken, last, end, false);
        nodes[end].mark = Mark::Succeeded;
    }
    Marking { nodes, taken }
}

/// Marks the edge `from` -> `to` taken: the Catcher's when the state's error
/// was caught, its `Next` or a rule otherwise (either when only one exists).
fn take(graph: &Graph, taken: &mut [bool], from: usize, to: usize, caught: bool) {
    let between = |e: &&Edge| e.from == from && e.to == to;
    let edge = graph
        .edges
        .iter()
        .position(|e| between(&e) && (e.kind == EdgeKind::Catch) == caught)
        .or_else(|| graph.edges.iter().position(|e| between(&e)));
    if let Some(edge) = edge {
        taken[edge] = true;
    }
}

#[cfg(test)]
mod tests {
    use asl::Definition;
    use serde_json::{Value, json};

    use super::super::history::Attempt;
    use super::*;

    /// The saga's real definition (its substitutions need no values to parse).
    fn saga() -> Graph {
        let text = include_str!("../../../../infra/order-saga.asl.json");
        Graph::of(&Definition::parse_str(text).unwrap().machine)
    }

    fn graph_of(definition: Value) -> Graph {
        Graph::of(&Definition::parse(&definition).unwrap().machine)
    }

    fn index(graph: &Graph, name: &str) -> usize {
        graph.nodes.iter().position(|n| n.name == name).unwrap()
    }

    /// Each rank's node names, left to right.
    fn rows(graph: &Graph) -> Vec<Vec<&str>> {
        let layout = layout(graph);
        let mut rows = vec![Vec::new(); layout.ranks];
        let mut placed: Vec<usize> = (0..graph.nodes.len()).collect();
        placed.sort_by_key(|&n| (layout.rank[n], layout.column[n]));
        for n in placed {
            rows[layout.rank[n]].push(graph.nodes[n].name.as_str());
        }
        rows
    }

    #[test]
    fn the_saga_is_laid_out_happy_path_first_with_compensations_beside_it() {
        let expected: Vec<Vec<&str>> = vec![
            vec!["Start"],
            vec!["ReserveInventory"],
            vec!["MarkReserved", "InventoryUnavailable"],
            vec!["ChargePayment"],
            vec!["MarkPaid", "PaymentProviderUnavailable"],
            vec!["ConfirmReservation"],
            vec!["MarkShipping", "RefundPayment"],
            vec!["ShipOrder", "ReleaseInventory"],
            vec!["MarkCompleted", "RejectOrder"],
            vec!["End"],
        ];
        assert_eq!(rows(&saga()), expected);
    }

    #[test]
    fn edges_follow_next_rules_default_and_catchers_in_order() {
        let graph = graph_of(json!({
            "StartAt": "Pick",
            "States": {
                "Pick": {"Type": "Choice", "Choices": [
                    {"Variable": "$.a", "BooleanEquals": true, "Next": "Work"}
                ], "Default": "Stop"},
                "Work": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                         "Parameters": {"FunctionName": "f"},
                         "Catch": [{"ErrorEquals": ["Boom", "Bang"], "Next": "Stop"}],
                         "Next": "Pick"},
                "Stop": {"Type": "Fail", "Error": "E"}
            }
        }));
        let edges: Vec<(&str, &str, EdgeKind, usize)> = graph
            .edges
            .iter()
            .map(|e| {
                (
                    graph.nodes[e.from].name.as_str(),
                    graph.nodes[e.to].name.as_str(),
                    e.kind,
                    e.errors.len(),
                )
            })
            .collect();
        assert_eq!(
            edges,
            [
                ("Start", "Pick", EdgeKind::Next, 0),
                ("Pick", "Work", EdgeKind::Choice, 0),
                ("Pick", "Stop", EdgeKind::Default, 0),
                ("Stop", "End", EdgeKind::Next, 0),
                ("Work", "Pick", EdgeKind::Next, 0),
                ("Work", "Stop", EdgeKind::Catch, 2),
            ]
        );
        // The loop back to Pick does not push it down; End stays last.
        assert_eq!(
            layout(&graph).back,
            [false, false, false, false, true, false]
        );
        assert_eq!(
            rows(&graph),
            [
                vec!["Start"],
                vec!["Pick"],
                vec!["Work"],
                vec!["Stop"],
                vec!["End"]
            ]
        );
    }

    fn succeeded() -> Attempt {
        Attempt {
            error: None,
            cause: None,
            succeeded: true,
        }
    }

    fn failed(error: &str) -> Attempt {
        Attempt {
            error: Some(error.to_owned()),
            cause: None,
            succeeded: false,
        }
    }

    /// A run of `name` as the history shows it; `duration_ms` 100.
    fn step(name: &str, status: &str, attempts: Vec<Attempt>) -> StepView {
        StepView {
            name: name.to_owned(),
            state_type: "Task".to_owned(),
            status: status.to_owned(),
            input: None,
            output: None,
            attempts,
            redrive: 0,
            entered_at: String::new(),
            duration_ms: (status != "RUNNING").then_some(100),
        }
    }

    fn ok(name: &str) -> StepView {
        step(name, "SUCCEEDED", vec![succeeded()])
    }

    /// Every node's mark other than "not visited" (by name), and the taken
    /// edges.
    fn marks(steps: &[StepView], status: ExecutionStatus) -> (Vec<(String, Mark)>, Vec<String>) {
        let graph = saga();
        let marking = mark(&graph, steps, status);
        let mut nodes: Vec<(String, Mark)> = graph
            .nodes
            .iter()
            .zip(&marking.nodes)
            .filter(|(_, run)| run.mark != Mark::NotVisited)
            .map(|(node, run)| (node.name.clone(), run.mark))
            .collect();
        nodes.sort_by(|a, b| a.0.cmp(&b.0));
        let edges = graph
            .edges
            .iter()
            .zip(&marking.taken)
            .filter(|(_, taken)| **taken)
            .map(|(e, _)| {
                let catch = if e.kind == EdgeKind::Catch {
                    " (catch)"
                } else {
                    ""
                };
                format!(
                    "{}>{}{catch}",
                    graph.nodes[e.from].name, graph.nodes[e.to].name
                )
            })
            .collect();
        (nodes, edges)
    }

    /// `marks` by name, as [`marks`] gives them.
    fn owned(marks: &[(&str, Mark)]) -> Vec<(String, Mark)> {
        let mut owned: Vec<(String, Mark)> =
            marks.iter().map(|(n, m)| ((*n).to_owned(), *m)).collect();
        owned.sort_by(|a, b| a.0.cmp(&b.0));
        owned
    }

    #[test]
    fn a_completed_order_marks_the_happy_path_and_nothing_else() {
        let path = [
            "ReserveInventory",
            "MarkReserved",
            "ChargePayment",
            "MarkPaid",
            "ConfirmReservation",
            "MarkShipping",
            "ShipOrder",
            "MarkCompleted",
        ];
        let steps: Vec<StepView> = path.iter().map(|n| ok(n)).collect();
        let (nodes, edges) = marks(&steps, ExecutionStatus::Succeeded);
        let mut expected = vec![("Start", Mark::Succeeded)];
        expected.extend(path.iter().map(|n| (*n, Mark::Succeeded)));
        expected.push(("End", Mark::Succeeded));
        assert_eq!(nodes, owned(&expected));
        assert_eq!(
            edges,
            [
                "Start>ReserveInventory",
                "ChargePayment>MarkPaid",
                "ConfirmReservation>MarkShipping",
                "MarkCompleted>End",
                "MarkPaid>ConfirmReservation",
                "MarkReserved>ChargePayment",
                "MarkShipping>ShipOrder",
                "ReserveInventory>MarkReserved",
                "ShipOrder>MarkCompleted",
            ]
        );
    }

    #[test]
    fn a_declined_payment_is_caught_then_compensated() {
        let steps = [
            ok("ReserveInventory"),
            ok("MarkReserved"),
            step(
                "ChargePayment",
                "SUCCEEDED",
                vec![failed("PaymentDeclined")],
            ),
            ok("ReleaseInventory"),
            ok("RejectOrder"),
        ];
        let (nodes, edges) = marks(&steps, ExecutionStatus::Succeeded);
        let expected = owned(&[
            ("Start", Mark::Succeeded),
            ("ReserveInventory", Mark::Succeeded),
            ("MarkReserved", Mark::Succeeded),
            ("ChargePayment", Mark::Caught),
            ("ReleaseInventory", Mark::Compensating),
            ("RejectOrder", Mark::Compensating),
            ("End", Mark::Succeeded),
        ]);
        assert_eq!(nodes, expected);
        assert_eq!(
            edges,
            [
                "Start>ReserveInventory",
                "ChargePayment>ReleaseInventory (catch)",
                "MarkReserved>ChargePayment",
                "RejectOrder>End",
                "ReleaseInventory>RejectOrder",
                "ReserveInventory>MarkReserved",
            ]
        );
    }

    #[test]
    fn a_failure_then_a_redrive_marks_the_latest_run_and_sums_durations() {
        let graph = saga();
        let mut redriven = ok("ChargePayment");
        redriven.redrive = 1;
        let steps = [
            ok("ReserveInventory"),
            ok("MarkReserved"),
            step(
                "ChargePayment",
                "FAILED",
                vec![failed("InjectedFault"), failed("InjectedFault")],
            ),
            redriven,
            step("MarkPaid", "RUNNING", vec![]),
        ];
        let marking = mark(&graph, &steps, ExecutionStatus::Running);
        let charge = marking.nodes[index(&graph, "ChargePayment")];
        assert_eq!(
            charge,
            NodeRun {
                mark: Mark::Succeeded,
                duration_ms: Some(200),
                runs: 2,
                retries: 1,
            }
        );
        let paid = marking.nodes[index(&graph, "MarkPaid")];
        assert_eq!((paid.mark, paid.duration_ms), (Mark::Running, None));
        // Stopped there: the state the execution ended in is marked failed.
        let stopped = mark(&graph, &steps, ExecutionStatus::Aborted);
        assert_eq!(stopped.nodes[index(&graph, "MarkPaid")].mark, Mark::Failed);
        let failed_once = mark(&graph, &steps[..3], ExecutionStatus::Failed);
        assert_eq!(
            failed_once.nodes[index(&graph, "ChargePayment")].mark,
            Mark::Failed
        );
        let end = index(&graph, "End");
        assert_eq!(failed_once.nodes[end].mark, Mark::NotVisited);
    }
}
