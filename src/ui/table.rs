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
                    ];
                    let mut cells = cells;
                    cells.extend(pod_traffic_cells(state, p));
                    cells.extend([
                        usage_cell(state, p, true),
                        usage_cell(state, p, false),
                        i.node.clone().unwrap_or_else(|| "<unscheduled>".into()),
                        i.ip.clone().unwrap_or_else(|| NONE.into()),
                        metrics_cell(p),
                        age(state.now, i.created),
                    ]);
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
                        app_proxy(r.cpu_millicores, |v| format!("{v:.0}m")),
                        app_proxy(r.memory_bytes, super::format::mib),
                        tax_cell(r.cpu_millicores, r.memory_bytes),
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
        View::Workloads => {
            let wls = query::workloads_view(state, entry);
            let (start, end) = window(state, wls.len(), page);
            let rows = wls[start..end]
                .iter()
                .map(|w| {
                    let r = w.rates();
                    let mut cells = vec![
                        w.namespace.clone(),
                        w.name.clone(),
                        w.kind.clone(),
                        w.mesh.unwrap_or(NONE).to_string(),
                        w.pods.to_string(),
                    ];
                    cells.extend(traffic_cells(r.as_ref(), w.mesh.is_some()));
                    cells.push(app_proxy(w.cpu_millicores, |v| format!("{v:.0}m")));
                    cells.push(app_proxy(w.memory_bytes, super::format::mib));
                    cells.push(tax_cell(w.cpu_millicores, w.memory_bytes));
                    (cells, None)
                })
                .collect();
            (wls.len(), rows)
        }
        View::Edges => {
            let edges = query::edges_view(state, entry);
            let (start, end) = window(state, edges.len(), page);
            let rows = edges[start..end]
                .iter()
                .map(|e| {
                    let r = e.rates();
                    let t = traffic_cells(Some(&r), true);
                    let cells = vec![
                        e.source.clone(),
                        e.destination.clone(),
                        t[0].clone(),
                        t[1].clone(),
                        t[2].clone(),
                        t[3].clone(),
                        t[4].clone(),
                        t[6].clone(),
                    ];
                    let failing = e.success_rate.is_some_and(|s| s < 0.95);
                    (cells, failing.then_some(theme.error))
                })
                .collect();
            (edges.len(), rows)
        }
        View::Overview | View::PodDetail { .. } | View::Bench => unreachable!("not a table view"),
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

/// RPS, SUCCESS, P50, P90, P99, TCP and mTLS of a pod: blank for pods without a metrics
/// endpoint, `-` while there is no window yet (the status line says why).
fn pod_traffic_cells(state: &State, p: &crate::app::state::PodEntry) -> [String; 7] {
    let has_endpoint = p.mesh.proxy.as_ref().is_some_and(|x| x.metrics_port.is_some());
    traffic_cells(query::rate(state, p).as_ref(), has_endpoint)
}

/// The traffic columns from rates over the window. A figure that needs requests (success,
/// latency, mTLS share) is `-` when the window saw none.
fn traffic_cells(r: Option<&crate::app::state::Rates>, expected: bool) -> [String; 7] {
    let Some(r) = r else {
        let dash = if expected { "-" } else { "" };
        return std::array::from_fn(|_| dash.to_string());
    };
    let ms = |v: Option<f64>| v.map_or_else(|| "-".into(), super::format::millis);
    let pct = |v: Option<f64>| v.map_or_else(|| "-".into(), |v| format!("{:.2}%", v * 100.0));
    [
        format!("{:.1}", r.rps),
        pct(r.success),
        ms(r.p50_ms),
        ms(r.p90_ms),
        ms(r.p99_ms),
        format!("{:.0}", r.tcp_open),
        pct(r.mtls),
    ]
}

/// The proxies' share of CPU and memory, `17%/33%`; `-` without a proxy or samples.
fn tax_cell(cpu: query::AppProxy<f64>, mem: query::AppProxy<u64>) -> String {
    let pct = |v: Option<f64>| v.map_or_else(|| "-".into(), |v| format!("{:.0}%", v * 100.0));
    let mem = query::AppProxy {
        app: mem.app.map(|v| v as f64),
        proxy: mem.proxy.map(|v| v as f64),
    };
    match (query::tax(cpu).0, query::tax(mem).0) {
        (None, None) => "-".into(),
        (c, m) => format!("{}/{}", pct(c), pct(m)),
    }
}

/// A workload's `app/proxy` sum; `-` for a side without samples.
fn app_proxy<T: Copy>(v: query::AppProxy<T>, f: impl Fn(T) -> String) -> String {
    match (v.app, v.proxy) {
        (None, None) => "-".into(),
        (a, p) => format!(
            "{}/{}",
            a.map_or_else(|| "-".into(), &f),
            p.map_or_else(|| "-".into(), &f)
        ),
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
