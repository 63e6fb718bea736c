//! The meshes overview: one card per mesh found, and what is not in any mesh.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use crate::app::State;
use crate::app::query::{MeshSummary, mesh_summaries};
use crate::mesh::Model;

const CARD_HEIGHT: u16 = 9;

pub fn render(state: &State, frame: &mut Frame, area: Rect) {
    let t = state.theme();
    let meshes = mesh_summaries(state);
    let meshed = state.pods.values().filter(|p| p.mesh.mesh.is_some()).count();
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

    let unmeshed = state.pods.len() - meshed;
    let pods_failing = state.pods.is_empty() && state.error_for(crate::model::Resource::Pods).is_some();
    let line = if pods_failing || !state.listed(crate::model::Resource::Pods) {
        Line::from(Span::styled(
            super::table::empty_reason(state, crate::model::Resource::Pods),
            Style::default().fg(t.dim),
        ))
    } else {
        Line::from(vec![
            Span::raw(format!(
                " {} pods in {} namespaces: ",
                state.pods.len(),
                state.namespaces.len()
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
            card(state, frame, *col, summary);
        }
        y += CARD_HEIGHT;
    }
}

fn card(state: &State, frame: &mut Frame, area: Rect, s: &MeshSummary<'_>) {
    let t = state.theme();
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
    let label = |l: &str| Span::styled(format!("{l:<14}"), Style::default().fg(t.dim));
    let mut lines = Vec::new();
    for cp in s.control_planes.iter().take(2) {
        let ready: u32 = cp.components.iter().map(|c| c.ready).sum();
        let desired: u32 = cp.components.iter().map(|c| c.desired).sum();
        lines.push(Line::from(vec![
            label("control plane"),
            Span::raw(format!(
                "{}{} {}  {} component{}, {ready}/{desired} ready",
                cp.namespace,
                cp.revision.as_ref().map(|r| format!(" rev {r}")).unwrap_or_default(),
                cp.version.as_deref().unwrap_or("version unknown"),
                cp.components.len(),
                if cp.components.len() == 1 { "" } else { "s" },
            )),
        ]));
    }
    if s.control_planes.len() > 2 {
        lines.push(Line::from(vec![
            label(""),
            Span::raw(format!("+{} more", s.control_planes.len() - 2)),
        ]));
    }
    let models = [Model::Sidecar, Model::Ambient, Model::Node, Model::Gateway]
        .iter()
        .filter_map(|m| s.by_model.get(m).map(|n| format!("{n} {}", m.as_str())))
        .collect::<Vec<_>>();
    lines.push(Line::from(vec![
        label("data plane"),
        Span::raw(if models.is_empty() {
            "no proxied pods".into()
        } else {
            models.join(" · ")
        }),
    ]));
    let coverage = match (s.injected_meshed * 100).checked_div(s.injected_pods) {
        Some(pct) => format!("{pct}% of {} pods in injected namespaces", s.injected_pods),
        None => "no pods in injected namespaces".into(),
    };
    lines.push(Line::from(vec![
        label("injection"),
        Span::raw(format!("{} namespaces · {coverage}", s.injected_namespaces.len())),
    ]));
    let c = s.cost;
    lines.push(Line::from(vec![
        label("cost"),
        if c.sampled == 0 {
            let why = state
                .errors
                .get(&(crate::model::Resource::PodMetrics, None))
                .map_or_else(|| "waiting for metrics.k8s.io".to_string(), |e| e.message.clone());
            Span::styled(format!("no CPU/memory yet: {why}"), Style::default().fg(t.dim))
        } else {
            Span::raw(format!(
                "proxies {:.0}m CPU {}{} · control plane {:.0}m {}",
                c.proxy_cpu_m,
                super::format::mib(c.proxy_mem),
                c.proxy_cpu_share()
                    .map(|x| format!(" ({:.0}% of their pods' CPU)", x * 100.0))
                    .unwrap_or_default(),
                c.control_cpu_m,
                super::format::mib(c.control_mem),
            ))
        },
    ]));
    if s.missing > 0 {
        lines.push(Line::from(vec![
            label("missing proxy"),
            Span::styled(
                format!("{} pods should be in the mesh but are not", s.missing),
                Style::default().fg(t.warn),
            ),
        ]));
    }
    if !s.evidence.is_empty() {
        lines.push(Line::from(vec![label("installed"), Span::raw(s.evidence.join(", "))]));
    }
    frame.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: true }), area);
}
