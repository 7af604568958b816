//! The state machine graph as inline SVG, drawn on the server from a
//! [`Graph`], its [`layout`] and one execution's [`Marking`], with a legend.
//!
//! Boxes sit on a grid of ranks (rows) and columns. An edge between
//! neighbouring ranks, or straight down a column with nothing in between,
//! is one segment; any other (a long jump or a loop back) leaves its state
//! downwards, runs along a lane to the right of every column, and comes in
//! from above, so no line crosses a box. Edges into the same state share a
//! lane and merge. Catch edges leave their box right of its centre, one
//! after another, so they part from the `Next` edge where they start. Taken
//! edges are drawn last, over the others.
//!
//! Every name is spliced through `maud`, so escaped; the style sheet is a
//! constant. The classes and `data-*` attributes are what the browser tests
//! read: `g.node[data-state][data-mark]`, `g.edge.taken[data-from][data-to]`.

use std::collections::BTreeMap;

use maud::{Markup, PreEscaped, html};

use super::graph::{EdgeKind, Graph, Layout, Mark, Marking, NodeKind, layout};
use super::history::duration_text;

const BOX_WIDTH: i32 = 224;
const BOX_HEIGHT: i32 = 42;
const PILL_WIDTH: i32 = 84;
const PILL_HEIGHT: i32 = 26;
const COLUMN_PITCH: i32 = 264;
const RANK_PITCH: i32 = 74;
const MARGIN: i32 = 16;
/// From the last column's right side to the first lane.
const LANE_START: i32 = 22;
const LANE_PITCH: i32 = 14;
/// Where a state's first Catch edge leaves it, right of its centre, and
/// how far apart the next ones do.
const CATCH_PORT: i32 = 44;
const CATCH_PORT_PITCH: i32 = 18;

/// The graph's own styles: classes under `.graph` and `.legend` only.
const STYLE: &str = ".graph{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start;margin:12px 0}\
.graph svg.machine{background:#fff;border:1px solid #e3e6ea;max-width:100%;height:auto}\
.graph text{text-anchor:middle;font-family:system-ui,sans-serif;font-size:11px;fill:#5d6d7e}\
.graph text.name{font-size:13px;font-weight:600;fill:#1d2330}\
.graph .node rect{stroke-width:1.5}.graph .node.not-visited text{fill:#9aa4ae}\
.graph .not-visited rect,.legend .not-visited{fill:#f4f5f7;background:#f4f5f7;stroke:#c5ccd3;border-color:#c5ccd3}\
.graph .succeeded rect,.legend .succeeded{fill:#d5f5e3;background:#d5f5e3;stroke:#1e8449;border-color:#1e8449}\
.graph .caught rect,.legend .caught{fill:#fadbd8;background:#fadbd8;stroke:#d68910;border-color:#d68910}\
.graph .compensating rect,.legend .compensating{fill:#fdebd0;background:#fdebd0;stroke:#d68910;border-color:#d68910}\
.graph .failed rect,.legend .failed{fill:#f5b7b1;background:#f5b7b1;stroke:#c0392b;border-color:#c0392b}\
.graph .running rect,.legend .running{fill:#d6eaf8;background:#d6eaf8;stroke:#2874a6;border-color:#2874a6}\
.graph .caught rect,.graph .failed rect,.graph .running rect{stroke-width:2.5}\
.graph .edge polyline{fill:none;stroke:#b3bcc6;stroke-width:1.5}\
.graph .edge.catch polyline{stroke-dasharray:5 4}\
.graph .edge.taken polyline{stroke:#1e8449;stroke-width:2.5}\
.graph .edge.taken.catch polyline{stroke:#d68910}\
.legend{list-style:none;margin:0;padding:10px 14px;background:#fff;border:1px solid #e3e6ea;font-size:13px}\
.legend li{margin:5px 0;display:flex;align-items:center;gap:8px}\
.legend .swatch{display:inline-block;width:22px;height:14px;border:1.5px solid;border-radius:3px}";

/// The arrowheads: one per edge colour, as a marker takes its colour from
/// where it is defined, not from the line.
const ARROWS: [(&str, &str); 3] = [
    ("g-arrow", "#b3bcc6"),
    ("g-arrow-taken", "#1e8449"),
    ("g-arrow-caught", "#d68910"),
];

/// The graph of one execution with its legend.
pub fn figure(graph: &Graph, marking: &Marking) -> Markup {
    let drawing = Drawing::new(graph, layout(graph));
    // Taken edges last, so they are drawn over the ones not taken.
    let mut order: Vec<usize> = (0..graph.edges.len()).collect();
    order.sort_by_key(|&e| marking.taken[e]);
    html! {
        style { (PreEscaped(STYLE)) }
        div class="graph" {
            svg class="machine" xmlns="http://www.w3.org/2000/svg" width=(drawing.width)
                height=(drawing.height) viewBox={ "0 0 " (drawing.width) " " (drawing.height) }
                role="img" aria-label="The state machine, marked with this execution's path" {
                defs {
                    @for (id, colour) in ARROWS {
                        marker id=(id) viewBox="0 0 10 10" refX="10" refY="5" markerWidth="9"
                            markerHeight="9" markerUnits="userSpaceOnUse" orient="auto" {
                            path d="M0,0 L10,5 L0,10 z" fill=(colour) {}
                        }
                    }
                }
                @for edge in order {
                    (drawing.edge(graph, edge, marking.taken[edge]))
                }
                @for node in 0..graph.nodes.len() {
                    (drawing.node(graph, node, marking))
                }
            }
            (legend())
        }
    }
}

fn legend() -> Markup {
    html! {
        ul class="legend" {
            @for mark in Mark::ALL {
                li { span class={ "swatch " (mark.class()) } {} (mark.label()) }
            }
            li { (edge_sample("edge taken")) "path taken" }
            li { (edge_sample("edge taken catch")) "Catch taken" }
            li { (edge_sample("edge catch")) "Catch (dashed)" }
        }
    }
}

fn edge_sample(class: &str) -> Markup {
    html! {
        svg width="30" height="10" {
            g class=(class) { polyline points="1,5 29,5" {} }
        }
    }
}

/// Where the boxes and lanes of one graph go, in SVG pixels.
struct Drawing {
    layout: Layout,
    /// Lane of each target of a long edge.
    lanes: BTreeMap<usize, i32>,
    /// By edge: how far right of its state's centre it leaves.
    ports: Vec<i32>,
    width: i32,
    height: i32,
}

impl Drawing {
    fn new(graph: &Graph, layout: Layout) -> Self {
        let mut lanes = BTreeMap::new();
        for edge in 0..graph.edges.len() {
            if Self::needs_lane(graph, &layout, edge) {
                let next = i32::try_from(lanes.len()).unwrap_or(i32::MAX);
                lanes.entry(graph.edges[edge].to).or_insert(next);
            }
        }
        let mut catches = vec![0; graph.nodes.len()];
        let ports = graph
            .edges
            .iter()
            .map(|edge| {
                if edge.kind != EdgeKind::Catch {
                    return 0;
                }
                catches[edge.from] += 1;
                CATCH_PORT + (catches[edge.from] - 1) * CATCH_PORT_PITCH
            })
            .collect();
        let columns = i32::try_from(layout.columns.max(1)).unwrap_or(1);
        let ranks = i32::try_from(layout.ranks.max(1)).unwrap_or(1);
        let lane_count = i32::try_from(lanes.len()).unwrap_or(0);
        let columns_right = MARGIN + (columns - 1) * COLUMN_PITCH + BOX_WIDTH;
        let width = if lane_count == 0 {
            columns_right + MARGIN
        } else {
            columns_right + LANE_START + (lane_count - 1) * LANE_PITCH + MARGIN
        };
        Drawing {
            layout,
            lanes,
            ports,
            width,
            height: 2 * MARGIN + (ranks - 1) * RANK_PITCH + BOX_HEIGHT,
        }
    }

    /// Whether `edge` cannot be one segment: it loops back, or skips ranks
    /// where something stands in its way.
    fn needs_lane(graph: &Graph, layout: &Layout, edge: usize) -> bool {
        let (from, to) = (graph.edges[edge].from, graph.edges[edge].to);
        if layout.back[edge] || layout.rank[to] <= layout.rank[from] {
            return true;
        }
        if layout.rank[to] == layout.rank[from] + 1 {
            return false;
        }
        let column = layout.column[from];
        column != layout.column[to]
            || (0..graph.nodes.len()).any(|n| {
                layout.column[n] == column
                    && layout.rank[n] > layout.rank[from]
                    && layout.rank[n] < layout.rank[to]
            })
    }

    fn centre_x(&self, node: usize) -> i32 {
        MARGIN + i32::try_from(self.layout.column[node]).unwrap_or(0) * COLUMN_PITCH + BOX_WIDTH / 2
    }

    fn cell_top(&self, node: usize) -> i32 {
        MARGIN + i32::try_from(self.layout.rank[node]).unwrap_or(0) * RANK_PITCH
    }

    /// The node's outline: x, y, width, height.
    fn outline(&self, graph: &Graph, node: usize) -> (i32, i32, i32, i32) {
        let (width, height) = match graph.nodes[node].kind {
            NodeKind::State(_) => (BOX_WIDTH, BOX_HEIGHT),
            NodeKind::Start | NodeKind::End => (PILL_WIDTH, PILL_HEIGHT),
        };
        let top = self.cell_top(node) + (BOX_HEIGHT - height) / 2;
        (self.centre_x(node) - width / 2, top, width, height)
    }

    /// The polyline of `edge`, from the bottom of its state to the top of
    /// the next.
    fn route(&self, graph: &Graph, edge: usize) -> Vec<(i32, i32)> {
        let (from, to) = (graph.edges[edge].from, graph.edges[edge].to);
        let (_, from_top, _, from_height) = self.outline(graph, from);
        let (_, to_top, _, _) = self.outline(graph, to);
        let start = (
            self.centre_x(from) + self.ports[edge],
            from_top + from_height,
        );
        let end = (self.centre_x(to), to_top);
        let lane = Self::needs_lane(graph, &self.layout, edge)
            .then(|| self.lanes.get(&to))
            .flatten();
        let Some(&lane) = lane else {
            return vec![start, end];
        };
        let lane_x = MARGIN
            + (i32::try_from(self.layout.columns).unwrap_or(1) - 1) * COLUMN_PITCH
            + BOX_WIDTH
            + LANE_START
            + lane * LANE_PITCH;
        // Lanes cross the gaps between ranks at their own heights, so two
        // lanes never share a horizontal stretch.
        let offset = 8 + (lane % 3) * 8;
        let below = self.cell_top(from) + BOX_HEIGHT + offset;
        let above = self.cell_top(to) - offset;
        vec![
            start,
            (start.0, below),
            (lane_x, below),
            (lane_x, above),
            (end.0, above),
            end,
        ]
    }

    fn edge(&self, graph: &Graph, edge: usize, taken: bool) -> Markup {
        let e = &graph.edges[edge];
        let (from, to) = (&graph.nodes[e.from].name, &graph.nodes[e.to].name);
        let kind = match e.kind {
            EdgeKind::Next => "next",
            EdgeKind::Choice => "choice",
            EdgeKind::Default => "default",
            EdgeKind::Catch => "catch",
        };
        let arrow = match (taken, e.kind) {
            (false, _) => ARROWS[0].0,
            (true, EdgeKind::Catch) => ARROWS[2].0,
            (true, _) => ARROWS[1].0,
        };
        let points: Vec<String> = self
            .route(graph, edge)
            .iter()
            .map(|(x, y)| format!("{x},{y}"))
            .collect();
        html! {
            g class={ "edge " (kind) @if taken { " taken" } } data-from=(from) data-to=(to) {
                title {
                    (from) " → " (to)
                    @if e.kind == EdgeKind::Catch { " on " (e.errors.join(", ")) }
                    @if e.kind == EdgeKind::Default { " (Default)" }
                    @if taken { ", taken" }
                }
                polyline points=(points.join(" ")) marker-end={ "url(#" (arrow) ")" } {}
            }
        }
    }

    fn node(&self, graph: &Graph, node: usize, marking: &Marking) -> Markup {
        let run = &marking.nodes[node];
        let name = &graph.nodes[node].name;
        let (x, y, width, height) = self.outline(graph, node);
        let centre = self.centre_x(node);
        let (detail, name_y, radius) = match graph.nodes[node].kind {
            NodeKind::State(type_name) => (Some(detail(type_name, run)), y + 18, 6),
            NodeKind::Start | NodeKind::End => (None, y + 17, height / 2),
        };
        html! {
            g class={ "node " (run.mark.class()) } data-state=(name) data-mark=(run.mark.class()) {
                title { (name) ": " (run.mark.label()) }
                rect x=(x) y=(y) width=(width) height=(height) rx=(radius) {}
                text class="name" x=(centre) y=(name_y) { (name) }
                @if let Some(detail) = detail {
                    text class="detail" x=(centre) y=(y + 34) { (detail) }
                }
            }
        }
    }
}

/// The second line of a state's box: its type, then how long it took and
/// how often it ran or retried.
fn detail(type_name: &str, run: &super::graph::NodeRun) -> String {
    let mut parts = vec![type_name.to_owned()];
    if let Some(ms) = run.duration_ms {
        parts.push(duration_text(ms));
    }
    if run.runs > 1 {
        parts.push(format!("{} runs", run.runs));
    }
    match run.retries {
        0 => {}
        1 => parts.push("1 retry".to_owned()),
        n => parts.push(format!("{n} retries")),
    }
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use asl::{Definition, ExecutionStatus};
    use serde_json::json;

    use super::super::graph::mark;
    use super::*;

    const HOSTILE: &str = "<script>alert(1)</script>";

    fn saga() -> Graph {
        let text = include_str!("../../../../infra/order-saga.asl.json");
        Graph::of(&Definition::parse_str(text).unwrap().machine)
    }

    /// Each edge's polyline, by "from>to".
    fn routes(graph: &Graph) -> BTreeMap<String, Vec<(i32, i32)>> {
        let drawing = Drawing::new(graph, layout(graph));
        (0..graph.edges.len())
            .map(|e| {
                let edge = &graph.edges[e];
                let key = format!(
                    "{}>{}",
                    graph.nodes[edge.from].name, graph.nodes[edge.to].name
                );
                (key, drawing.route(graph, e))
            })
            .collect()
    }

    #[test]
    fn long_edges_go_round_the_boxes_and_short_ones_are_straight() {
        let routes = routes(&saga());
        // Neighbouring ranks: one segment from the bottom of one box to the
        // top of the next.
        assert_eq!(routes["MarkPaid>ConfirmReservation"].len(), 2);
        assert_eq!(routes["ConfirmReservation>RefundPayment"].len(), 2);
        // Straight down the compensation column over an empty cell.
        assert_eq!(routes["PaymentProviderUnavailable>RefundPayment"].len(), 2);
        // Through a lane: the three catches into ReleaseInventory share one.
        let lane_of = |key: &str| routes[key][2].0;
        assert_eq!(routes["ChargePayment>ReleaseInventory"].len(), 6);
        assert_eq!(
            lane_of("MarkReserved>ReleaseInventory"),
            lane_of("ChargePayment>ReleaseInventory")
        );
        assert_eq!(
            lane_of("InventoryUnavailable>ReleaseInventory"),
            lane_of("ChargePayment>ReleaseInventory")
        );
        assert_ne!(
            lane_of("ReserveInventory>RejectOrder"),
            lane_of("ChargePayment>ReleaseInventory")
        );
        // Every lane lies right of every box.
        let right_of_boxes = MARGIN + COLUMN_PITCH + BOX_WIDTH;
        for (key, points) in &routes {
            if points.len() == 6 {
                assert!(points[2].0 > right_of_boxes, "{key}: {points:?}");
            }
        }
    }

    #[test]
    fn names_are_escaped_and_marks_are_readable() {
        let graph = Graph::of(
            &Definition::parse(&json!({
                "StartAt": HOSTILE,
                "States": {HOSTILE: {"Type": "Pass", "End": true}}
            }))
            .unwrap()
            .machine,
        );
        let marking = mark(&graph, &[], ExecutionStatus::Running);
        let html = figure(&graph, &marking).into_string();
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains("data-state=\"&lt;script&gt;alert(1)&lt;/script&gt;\""),
            "{html}"
        );
        assert!(html.contains("data-mark=\"not-visited\""), "{html}");
        // SVG elements are closed explicitly: in HTML, `<rect>` alone would
        // swallow what follows it.
        assert!(html.contains("rx=\"13\"></rect>"), "{html}");
    }

    #[test]
    fn a_box_says_how_long_and_how_often() {
        use super::super::graph::NodeRun;
        let cases = [
            (None, 0, 0, "Task"),
            (Some(350), 1, 0, "Task · 350 ms"),
            (Some(1_234), 1, 2, "Task · 1.2 s · 2 retries"),
            (Some(61_000), 2, 1, "Task · 1 min 1 s · 2 runs · 1 retry"),
        ];
        for (duration_ms, runs, retries, expected) in cases {
            let run = NodeRun {
                mark: Mark::Succeeded,
                duration_ms,
                runs,
                retries,
            };
            assert_eq!(detail("Task", &run), expected);
        }
    }
}
