//! The table views (control planes, namespaces, pods). Only the visible slice of rows
//! is turned into cells and widgets.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Row, Table};

use super::format::age;
use crate::app::query::{self, NONE};
use crate::app::{State, View};

/// A row's cells and, when it needs attention, the colour to draw it in.
type Cells = (Vec<String>, Option<Color>);

pub fn render(state: &State, frame: &mut Frame, area: Rect) {
    let theme = state.theme();
    let entry = state.entry();
    // Two border rows and the header row.
    let page = area.height.saturating_sub(3) as usize;
    state.last_page.set(page.max(1));

    let (total, rows): (usize, Vec<Cells>) = match entry.view {
        View::Pods => {
            let pods = query::pods(state, entry);
            let (start, end) = window(state, pods.len(), page);
            let rows = pods[start..end]
                .iter()
                .map(|p| {
                    let i = &p.info;
                    let missing = query::missing_proxy(state, p).is_some();
                    let proxy = p.mesh.proxy.as_ref();
                    let cells = vec![
                        i.namespace.clone(),
                        i.name.clone(),
                        p.mesh.mesh.map_or(NONE, |m| m.as_str()).to_string(),
                        model_cell(p, missing),
                        proxy.map_or_else(
                            || NONE.into(),
                            |x| format!("{}:{}", x.container, x.version.as_deref().unwrap_or("?")),
                        ),
                        format!("{}/{}", i.ready, i.containers),
                        i.phase.clone(),
                        i.restarts.to_string(),
                        rate_cell(state, p, |r| Some(format!("{:.1}", r.rps))),
                        rate_cell(state, p, |r| r.success.map(|v| format!("{:.2}%", v * 100.0))),
                        rate_cell(state, p, |r| r.p99_ms.map(|v| format!("{v:.0}ms"))),
                        usage_cell(state, p, true),
                        usage_cell(state, p, false),
                        i.node.clone().unwrap_or_else(|| "<unscheduled>".into()),
                        i.ip.clone().unwrap_or_else(|| NONE.into()),
                        metrics_cell(p),
                        age(state.now, i.created),
                    ];
                    let colour = if missing {
                        Some(theme.warn)
                    } else if !matches!(i.phase.as_str(), "Running" | "Succeeded") {
                        Some(theme.dim)
                    } else {
                        None
                    };
                    (cells, colour)
                })
                .collect();
            (pods.len(), rows)
        }
        View::Namespaces => {
            let nss = query::namespaces(state, entry);
            let (start, end) = window(state, nss.len(), page);
            let rows = nss[start..end]
                .iter()
                .map(|r| {
                    let cells = vec![
                        r.ns.info.name.clone(),
                        r.injection_text(),
                        r.meshed.to_string(),
                        r.pods.to_string(),
                        r.coverage_percent()
                            .map_or_else(|| "no pods".into(), |p| format!("{p}%")),
                        r.missing.to_string(),
                        age(state.now, r.ns.info.created),
                    ];
                    (cells, (r.missing > 0).then_some(theme.warn))
                })
                .collect();
            (nss.len(), rows)
        }
        View::ControlPlanes => {
            let cps = query::control_planes(state, entry);
            let (start, end) = window(state, cps.len(), page);
            let rows = cps[start..end]
                .iter()
                .map(|c| {
                    let components = c
                        .components
                        .iter()
                        .map(|x| format!("{} {}/{}", x.name, x.ready, x.desired))
                        .collect::<Vec<_>>()
                        .join("  ");
                    let cells = vec![
                        c.mesh.as_str().to_string(),
                        c.namespace.clone(),
                        c.revision.clone().unwrap_or_else(|| "default".into()),
                        c.version.clone().unwrap_or_else(|| "unknown (no image tag)".into()),
                        components,
                        if c.healthy { "healthy".into() } else { "DEGRADED".into() },
                        age(state.now, c.created),
                    ];
                    (cells, (!c.healthy).then_some(theme.error))
                })
                .collect();
            (cps.len(), rows)
        }
        View::Overview | View::PodDetail { .. } => unreachable!("not a table view"),
    };

    let columns = query::columns(&entry.view);
    // Inside the borders, with one space between columns.
    let keep = fitting_columns(columns, &rows, area.width.saturating_sub(2) as usize);
    let widths = column_widths(columns, &rows, &keep);
    let header = Row::new(
        columns
            .iter()
            .enumerate()
            .filter(|(i, _)| keep.contains(i))
            .map(|(i, c)| {
                let mark = match (i == entry.sort_column, entry.sort_reverse) {
                    (true, false) => "↑",
                    (true, true) => "↓",
                    _ => "",
                };
                Cell::from(format!("{c}{mark}"))
            }),
    )
    .style(
        Style::default()
            .fg(theme.header_fg)
            .bg(theme.header_bg)
            .add_modifier(Modifier::BOLD),
    );

    let offset = state.scroll.get();
    let selected = entry.selected.min(total.saturating_sub(1));
    let body = rows.into_iter().enumerate().map(|(i, (cells, colour))| {
        let cells: Vec<String> = cells
            .into_iter()
            .enumerate()
            .filter(|(c, _)| keep.contains(c))
            .map(|(_, v)| v)
            .collect();
        let row = Row::new(cells);
        if offset + i == selected {
            row.style(Style::default().fg(theme.selected_fg).bg(theme.selected_bg))
        } else if let Some(c) = colour {
            row.style(Style::default().fg(c))
        } else {
            row
        }
    });

    let filter = if entry.filter.is_empty() {
        String::new()
    } else {
        format!(" /{}", entry.filter)
    };
    let title = Line::from(vec![
        Span::styled(
            format!(" {}", entry.view.title()),
            Style::default().fg(theme.title).add_modifier(Modifier::BOLD),
        ),
        Span::styled(filter, Style::default().fg(theme.accent)),
        Span::styled(format!(" [{total}] "), Style::default().fg(theme.title)),
    ]);
    let mut block = Block::default()
        .borders(Borders::ALL)
        .border_style(Style::default().fg(theme.border))
        .title(title);
    if total == 0 {
        block = block.title_bottom(Line::from(Span::styled(
            empty_reason(state, entry.view.resource()),
            Style::default().fg(theme.dim),
        )));
    }
    let table = Table::new(body, widths).header(header).block(block).column_spacing(1);
    frame.render_widget(table, area);
}

/// The data-plane model; mesh components without a proxy show as "control", and pods
/// missing an expected proxy as "none!".
fn model_cell(p: &crate::app::state::PodEntry, missing: bool) -> String {
    use crate::mesh::{Model, rules::Role};
    match (p.mesh.model, p.mesh.role) {
        _ if missing => "none!".into(),
        (Model::None, Some(Role::Control | Role::Addon)) => "control".into(),
        (m, _) => m.as_str().into(),
    }
}

/// A traffic figure; `-` while a scraped proxy has no rate yet (or no requests), blank
/// for pods without a metrics endpoint.
fn rate_cell(
    state: &State,
    p: &crate::app::state::PodEntry,
    f: impl Fn(crate::app::state::Rates) -> Option<String>,
) -> String {
    match query::rate(state, p) {
        Some(r) => f(r).unwrap_or_else(|| "-".into()),
        None if p.mesh.proxy.as_ref().is_some_and(|x| x.metrics_port.is_some()) => "-".into(),
        None => String::new(),
    }
}

/// `app/proxy` CPU (millicores) or memory; `-` when metrics.k8s.io has no sample (the
/// reason is in the status line); the proxy side is `-` for pods without a proxy.
fn usage_cell(state: &State, p: &crate::app::state::PodEntry, cpu: bool) -> String {
    let Some(u) = query::usage_split(state, p) else {
        return "-".into();
    };
    let (app, proxy) = if cpu {
        (format!("{:.0}m", u.app_cpu_m), format!("{:.0}m", u.proxy_cpu_m))
    } else {
        (super::format::mib(u.app_mem), super::format::mib(u.proxy_mem))
    };
    if p.mesh.proxy.is_some() {
        format!("{app}/{proxy}")
    } else {
        format!("{app}/-")
    }
}

/// The proxy's metrics endpoint, or why none is known.
fn metrics_cell(p: &crate::app::state::PodEntry) -> String {
    match &p.mesh.proxy {
        None => NONE.into(),
        Some(x) => match (x.metrics_port, &x.metrics_path) {
            (Some(port), Some(path)) => format!(":{port}{path}"),
            (Some(port), None) => format!(":{port}"),
            _ => "unknown port".into(),
        },
    }
}

fn natural_widths(columns: &[&str], rows: &[Cells]) -> Vec<usize> {
    (0..columns.len())
        .map(|i| {
            rows.iter()
                .map(|r| r.0[i].chars().count())
                .chain([columns[i].len() + 1])
                .max()
                .unwrap_or(1)
        })
        .collect()
}

/// Columns shown at this width: when the natural widths do not fit, the view's least
/// important columns are hidden (METRICS, then IP, NODE...) instead of squeezing names.
fn fitting_columns(columns: &[&str], rows: &[Cells], width: usize) -> Vec<usize> {
    let natural = natural_widths(columns, rows);
    let mut keep: Vec<usize> = (0..columns.len()).collect();
    let total = |keep: &[usize]| keep.iter().map(|&i| natural[i] + 1).sum::<usize>();
    for name in query::DROP_ORDER {
        if total(&keep) <= width {
            break;
        }
        if let Some(pos) = columns.iter().position(|c| c == name) {
            keep.retain(|&i| i != pos);
        }
    }
    keep
}

/// Sizes the shown columns to their widest visible cell (plus the sort mark), like k9s;
/// the last takes what is left so the table spans the screen.
fn column_widths(columns: &[&str], rows: &[Cells], keep: &[usize]) -> Vec<Constraint> {
    let natural = natural_widths(columns, rows);
    keep.iter()
        .enumerate()
        .map(|(n, &i)| {
            if n + 1 == keep.len() {
                Constraint::Fill(1)
            } else {
                Constraint::Length(natural[i] as u16)
            }
        })
        .collect()
}

/// Picks the visible slice and keeps the selection inside it, scrolling as little as possible.
fn window(state: &State, len: usize, page: usize) -> (usize, usize) {
    // Rows may have gone since the selection was made; the fold does not clamp it.
    let selected = state.entry().selected.min(len.saturating_sub(1));
    let mut offset = state.scroll.get().min(len.saturating_sub(page));
    if selected < offset {
        offset = selected;
    } else if page > 0 && selected >= offset + page {
        offset = selected + 1 - page;
    }
    state.scroll.set(offset);
    (offset, (offset + page).min(len))
}

/// Why a table is empty, so the user never stares at a blank box.
pub fn empty_reason(state: &State, resource: crate::model::Resource) -> String {
    let entry = state.entry();
    if let Some((ns, e)) = state.error_for(resource) {
        let scope = ns.as_ref().map(|n| format!(" in {n}")).unwrap_or_default();
        format!(" {}{scope} {}: {} ", resource.as_str(), e.kind.label(), e.message)
    } else if !state.listed(resource) {
        format!(" loading {}… ", resource.as_str())
    } else if !entry.filter.is_empty() {
        " nothing matches the filter (esc clears it) ".into()
    } else if entry.view == View::ControlPlanes {
        " no mesh control plane found in the watched namespaces ".into()
    } else {
        format!(" no {} ", resource.as_str())
    }
}
