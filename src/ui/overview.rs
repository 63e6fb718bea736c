//! The meshes overview: one card per mesh found, and what is not in any mesh.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::theme::Theme;
use crate::app::State;
use crate::app::figures::{MeshSummary, usage_gap};
use crate::app::format::{mib, millicores, plural};
use crate::mesh::Model;

/// Borders and up to eight lines (two control planes, a `+N more`, five facts).
const CARD_HEIGHT: u16 = 10;

pub fn render(state: &State, t: &Theme, frame: &mut Frame, area: Rect) {
    let meshes = &state.overview.meshes;
    let meshed = state.overview.meshed_pods;
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(Style::default().fg(t.border))
        .title(Line::from(vec![
            Span::styled(" meshes", Style::default().fg(t.title).add_modifier(Modifier::BOLD)),
            Span::styled(format!(" [{}] ", meshes.len()), Style::default().fg(t.title)),
        ]));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [summary, cards] = Layout::vertical([Constraint::Length(2), Constraint::Min(0)]).areas(inner);

    let unmeshed = state.pods.len().saturating_sub(meshed);
    let pods_failing = state.pods.is_empty() && state.error_for(crate::model::Resource::Pods).is_some();
    let line = if pods_failing || !state.listed(crate::model::Resource::Pods) {
        Line::from(Span::styled(
            super::table::empty_reason(state, crate::model::Resource::Pods),
            Style::default().fg(t.dim),
        ))
    } else {
        Line::from(vec![
            Span::raw(format!(
                " {} in {}: ",
                plural(state.pods.len(), "pod"),
                plural(state.namespaces.len(), "namespace")
            )),
            Span::styled(format!("{meshed} in a mesh"), Style::default().fg(t.ok)),
            Span::raw(", "),
            Span::styled(format!("{unmeshed} not"), Style::default().fg(t.dim)),
            Span::styled(
                "   enter: control planes · 3: namespaces · 4: pods",
                Style::default().fg(t.dim),
            ),
        ])
    };
    frame.render_widget(Paragraph::new(line), summary);

    if meshes.is_empty() {
        let msg = if state.listed(crate::model::Resource::Pods) {
            " No service mesh found: no control-plane workloads, mesh CRDs or proxied pods."
        } else {
            ""
        };
        frame.render_widget(Paragraph::new(Span::styled(msg, Style::default().fg(t.dim))), cards);
        return;
    }
    // Two cards per row when the terminal is wide enough.
    let per_row = if cards.width >= 120 { 2 } else { 1 };
    let rows = meshes.chunks(per_row);
    let mut y = cards.y;
    for chunk in rows {
        if y + CARD_HEIGHT > cards.y + cards.height {
            break;
        }
        let row = Rect {
            x: cards.x,
            y,
            width: cards.width,
            height: CARD_HEIGHT,
        };
        let cols = Layout::horizontal(vec![Constraint::Ratio(1, per_row as u32); per_row]).split(row);
        for (summary, col) in chunk.iter().zip(cols.iter()) {
            card(state, t, frame, *col, summary);
        }
        y += CARD_HEIGHT;
    }
}

fn card(state: &State, t: &Theme, frame: &mut Frame, area: Rect, s: &MeshSummary) {
    let (health, colour) = if s.control_planes.is_empty() {
        ("no control plane found", t.warn)
    } else if s.healthy() {
        ("healthy", t.ok)
    } else {
        ("DEGRADED", t.error)
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(Style::default().fg(colour))
        .title(Line::from(vec![
            Span::styled(
                format!(" {} ", s.name),
                Style::default().fg(t.title).add_modifier(Modifier::BOLD),
            ),
            Span::styled(
                format!("{health} "),
                Style::default().fg(colour).add_modifier(Modifier::BOLD),
            ),
        ]));
    // (label, value, style): values wrap under themselves, never under the labels.
    let mut rows: Vec<(&str, String, Style)> = Vec::new();
    let plain = Style::default();
    for cp in s.control_planes.iter().take(2) {
        let ready: u32 = cp.components.iter().map(|c| c.ready).sum();
        let desired: u32 = cp.components.iter().map(|c| c.desired).sum();
        rows.push((
            "control plane",
            format!(
                "{}{} {}  {}, {ready}/{desired} ready",
                cp.namespace,
                cp.revision.as_ref().map(|r| format!(" rev {r}")).unwrap_or_default(),
                cp.version.as_deref().unwrap_or("version unknown"),
                plural(cp.components.len(), "component"),
            ),
            plain,
        ));
    }
    if s.control_planes.len() > 2 {
        rows.push(("", format!("+{} more", s.control_planes.len() - 2), plain));
    }
    let models = [
        (Model::Sidecar, "sidecar"),
        (Model::Ambient, "ambient pod"),
        (Model::Node, "node proxy"),
        (Model::Gateway, "gateway"),
    ]
    .iter()
    .filter_map(|(m, what)| s.by_model.get(m).map(|n| plural(*n, what)))
    .collect::<Vec<_>>();
    rows.push((
        "data plane",
        if models.is_empty() {
            "no proxied pods".into()
        } else {
            models.join(" · ")
        },
        plain,
    ));
    let coverage = match (s.injected_meshed * 100).checked_div(s.injected_pods) {
        Some(pct) => format!("{pct}% of {} in injected namespaces", plural(s.injected_pods, "pod")),
        None => "no pods in injected namespaces".into(),
    };
    rows.push((
        "injection",
        format!("{} · {coverage}", plural(s.injected_namespaces.len(), "namespace")),
        plain,
    ));
    let c = s.cost;
    let dim = Style::default().fg(t.dim);
    rows.push(match c.sampled {
        0 => ("proxy cost", format!("not measured: {}", usage_gap(state)), dim),
        _ => (
            "proxy cost",
            format!(
                "{} CPU {}{}{}",
                millicores(c.proxy_cpu_m),
                mib(c.proxy_mem),
                c.proxy_cpu_share()
                    .map(|x| format!(" · sidecars {} of their pods' CPU", crate::app::format::share(x)))
                    .unwrap_or_default(),
                // A partial sum says so.
                if c.sampled < c.proxies {
                    format!(" · {} of {} proxies measured", c.sampled, c.proxies)
                } else {
                    String::new()
                },
            ),
            plain,
        ),
    });
    rows.push(match (c.control_pods, c.control_sampled) {
        (0, _) => (
            "control cost",
            "no control-plane pod in the watched namespaces".into(),
            dim,
        ),
        (_, 0) => ("control cost", format!("not measured: {}", usage_gap(state)), dim),
        (_, _) => (
            "control cost",
            format!("{} CPU {}", millicores(c.control_cpu_m), mib(c.control_mem)),
            plain,
        ),
    });
    if s.missing > 0 {
        let text = if s.missing == 1 {
            "1 pod should be in the mesh but is not".to_string()
        } else {
            format!("{} pods should be in the mesh but are not", s.missing)
        };
        rows.push(("missing proxy", text, Style::default().fg(t.warn)));
    }
    if !s.evidence.is_empty() {
        rows.push(("installed", s.evidence.join(", "), plain));
    }
    let width = area.width.saturating_sub(2) as usize;
    let lines: Vec<Line> = rows
        .into_iter()
        .flat_map(|(label, value, style)| super::labelled(label, LABEL, &value, width, dim, style))
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// Width of the labels on the cards.
const LABEL: usize = 14;
