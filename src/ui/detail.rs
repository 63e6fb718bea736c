//! Pod detail: containers, the annotations that matter to the mesh, and the proxy summary.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Sparkline, Wrap};

use super::theme::Theme;
use crate::app::State;
use crate::app::figures::traffic_gap;
use crate::app::format::age;
use crate::model::{ContainerKind, Series};

pub fn render(state: &State, t: &Theme, frame: &mut Frame, area: Rect, namespace: &str, name: &str) {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(Style::default().fg(t.border))
        .title(Span::styled(
            format!(" pod {namespace}/{name} "),
            Style::default().fg(t.title).add_modifier(Modifier::BOLD),
        ));
    let Some(p) = state.pods.get(&(namespace.to_string(), name.to_string())) else {
        let msg = " this pod no longer exists (deleted since it was opened); esc goes back";
        frame.render_widget(
            Paragraph::new(Span::styled(msg, Style::default().fg(t.warn))).block(block),
            area,
        );
        return;
    };
    let i = &p.info;
    let head = |s: &str| {
        Line::from(Span::styled(
            s.to_string(),
            Style::default().fg(t.title).add_modifier(Modifier::BOLD),
        ))
    };
    let kv = |k: &str, v: String| {
        Line::from(vec![
            // A key as long as the column still gets a space before its value.
            Span::styled(format!("  {k:<15} "), Style::default().fg(t.dim)),
            Span::raw(v),
        ])
    };
    let mut lines = vec![
        kv(
            "phase",
            format!(
                "{}  ready {}/{}  restarts {}",
                i.phase, i.ready, i.containers, i.restarts
            ),
        ),
        kv(
            "node / ip",
            format!(
                "{} / {}",
                i.node.as_deref().unwrap_or("<unscheduled>"),
                i.ip.as_deref().unwrap_or("<none>")
            ),
        ),
        kv(
            "owner",
            i.owner
                .as_ref()
                .map_or_else(|| "<none>".into(), |o| format!("{} {}", o.kind, o.name)),
        ),
        kv("age", age(state.now, i.created)),
        Line::default(),
        head("MESH"),
        kv("mesh", p.mesh.mesh.map_or("<none>", |m| m.as_str()).to_string()),
        kv("data plane", p.mesh.model.as_str().to_string()),
    ];
    if let Some(role) = p.mesh.role {
        lines.push(kv("role", format!("{role:?} component of the mesh").to_lowercase()));
    }
    if let Some(rev) = &p.mesh.revision {
        lines.push(kv("revision", rev.clone()));
    }
    match &p.mesh.proxy {
        Some(x) => {
            lines.push(kv(
                "proxy",
                format!(
                    "{} ({})",
                    x.container,
                    x.version.as_deref().unwrap_or("version unknown")
                ),
            ));
            lines.push(kv(
                "metrics",
                match (x.metrics_port, &x.metrics_path) {
                    (Some(port), path) => format!(":{port}{}", path.as_deref().unwrap_or("")),
                    _ => "no metrics port known for this proxy".into(),
                },
            ));
            if let Some((n, first)) = state
                .traffic
                .get(&(i.namespace.clone(), i.name.clone()))
                .and_then(|t| t.unread.as_ref())
            {
                lines.push(kv(
                    "not read",
                    format!("{} of its last scrape: {first}", crate::app::format::plural(*n, "line")),
                ));
            }
        }
        None => lines.push(kv("proxy", "<none>".into())),
    }
    if let Some(why) = &p.missing {
        lines.push(Line::from(Span::styled(
            format!("  ! {why}"),
            Style::default().fg(t.warn).add_modifier(Modifier::BOLD),
        )));
    }
    lines.push(Line::default());
    lines.push(head(&format!(
        "TRAFFIC (window {})",
        crate::app::traffic::window_label(state.window_s)
    )));
    let traffic = state.traffic.get(&(i.namespace.clone(), i.name.clone()));
    let key = (i.namespace.clone(), i.name.clone());
    // A proxy that reports for others: its figures are what it carried, not its own app's.
    let carries: Vec<String> = state
        .carried
        .iter()
        .filter(|(_, by)| by.contains_key(&key))
        .map(|((ns, w), _)| format!("{ns}/{w}"))
        .collect();
    if !carries.is_empty() {
        lines.push(kv(
            "reports for",
            format!(
                "{} workload{}: {} (their rows count it; the figures below are what this proxy carried)",
                carries.len(),
                if carries.len() == 1 { "" } else { "s" },
                carries.join(", ")
            ),
        ));
    }
    // A pod without a proxy of its own whose workload a node proxy or waypoint reports for.
    let workload = state.workload_rows.get(&crate::app::figures::workload_key(p));
    if p.rates.is_none()
        && let Some(row) = workload.filter(|w| !w.via.is_empty())
        && let Some(r) = &row.rates
    {
        let via: Vec<String> = row
            .via
            .iter()
            .map(|k| {
                // What each reporter gives: ztunnel the bytes, a waypoint or Hubble the requests.
                let what = state
                    .pods
                    .get(k)
                    .map_or("proxy", |p| match (p.mesh.model, p.mesh.mesh) {
                        (crate::mesh::Model::Node, Some(crate::mesh::Mesh::Istio)) => "ztunnel (bytes, connections)",
                        (crate::mesh::Model::Node, Some(crate::mesh::Mesh::Cilium)) => "Hubble (requests)",
                        (crate::mesh::Model::Node, _) => "node proxy",
                        (crate::mesh::Model::Gateway, _) => "waypoint (requests, latency)",
                        _ => "proxy",
                    });
                format!("{what} {}/{}", k.0, k.1)
            })
            .collect();
        let ms = |v: Option<f64>| v.map_or_else(|| "-".into(), crate::app::format::millis);
        let b = |v: Option<f64>| v.map_or_else(|| "-".into(), crate::app::format::byte_rate);
        lines.push(kv("reported by", via.join(", ")));
        lines.push(kv(
            "workload",
            format!(
                "{}/{} ({} pod{}): {:.2} rps  success {}  p99 {}  read {}/s  write {}/s  {:.0} tcp open",
                row.namespace,
                row.name,
                row.pods,
                if row.pods == 1 { "" } else { "s" },
                r.rps,
                r.success
                    .map_or_else(|| "no requests".into(), |v| format!("{:.2}%", v * 100.0)),
                ms(r.p99_ms),
                b(r.read_bps),
                b(r.write_bps),
                r.tcp_open
            ),
        ));
        if r.p99_ms.is_none() {
            lines.push(kv(
                "no latency",
                "ztunnel sees L4 only: HTTP figures need a waypoint for this workload".into(),
            ));
        }
    }
    let shown_for_workload = p.rates.is_none() && workload.is_some_and(|w| !w.via.is_empty() && w.rates.is_some());
    match (p.rates, traffic.and_then(|t| t.window.as_ref().map(|w| (t, w)))) {
        (Some(r), Some((t, w))) => {
            let ms = |v: Option<f64>| v.map_or_else(|| "-".into(), crate::app::format::millis);
            let pct = |v: Option<f64>| v.map_or_else(|| "no requests".into(), |v| format!("{:.2}%", v * 100.0));
            lines.push(kv(
                "requests",
                format!(
                    "{:.2} rps over {:.0}s{}  success {}  mTLS {}",
                    r.rps,
                    r.window_s,
                    if w.partial { " (partial window)" } else { "" },
                    pct(r.success),
                    pct(r.mtls)
                ),
            ));
            lines.push(kv(
                "latency",
                format!("p50 {}  p90 {}  p99 {}", ms(r.p50_ms), ms(r.p90_ms), ms(r.p99_ms)),
            ));
            let b = |v: Option<f64>| v.map_or_else(|| "-".into(), crate::app::format::byte_rate);
            lines.push(kv(
                "tcp",
                match r.tcp_opened_per_s {
                    Some(opened) => format!(
                        "{:.0} open  {opened:.2} opened/s  read {}/s  write {}/s",
                        r.tcp_open,
                        b(r.read_bps),
                        b(r.write_bps)
                    ),
                    None => format!("{:.0} open (the proxy exports no byte counters)", r.tcp_open),
                },
            ));
            for (dst, e) in &t.edge_rates {
                lines.push(kv(
                    "→ outbound",
                    format!(
                        "{dst}  {:.2} rps  success {}  p99 {}  read {}/s  write {}/s",
                        e.rps,
                        pct(e.success),
                        ms(e.p99_ms),
                        b(e.read_bps),
                        b(e.write_bps)
                    ),
                ));
            }
        }
        _ if shown_for_workload => {}
        _ => lines.push(kv(
            "no figures",
            traffic_gap(state, p).unwrap_or_else(|| "no traffic data".into()),
        )),
    }
    if !state.usage.contains_key(&(i.namespace.clone(), i.name.clone())) {
        lines.push(kv(
            "cpu/memory",
            format!(
                "not measured: {}",
                crate::app::figures::usage_gap_in(state, Some(&i.namespace))
            ),
        ));
    }
    lines.push(Line::default());
    lines.push(head("CONTAINERS"));
    for c in &i.containers_info {
        let kind = match c.kind {
            ContainerKind::Main => "container",
            ContainerKind::Init => "init",
            ContainerKind::NativeSidecar => "native sidecar",
        };
        let ports = c.ports.iter().map(|p| match &p.name {
            Some(n) => format!("{}/{n}", p.port),
            None => p.port.to_string(),
        });
        let ports = ports.collect::<Vec<_>>().join(",");
        let proxy = p.mesh.proxy.as_ref().is_some_and(|x| x.container == c.name);
        let usage = state
            .usage
            .get(&(i.namespace.clone(), i.name.clone()))
            .and_then(|u| u.containers.iter().find(|x| x.name == c.name))
            .map(|u| {
                format!(
                    "  cpu {} mem {}",
                    crate::app::format::millicores(u.cpu_millicores),
                    crate::app::format::mib(u.memory_bytes)
                )
            })
            .unwrap_or_default();
        lines.push(Line::from(vec![
            Span::styled(
                format!("  {:<24}", c.name),
                if proxy {
                    Style::default().fg(t.accent)
                } else {
                    Style::default()
                },
            ),
            Span::styled(format!("{kind:<15}"), Style::default().fg(t.dim)),
            Span::raw(format!(
                "{}  {}  restarts {}{}{usage}",
                c.image,
                if c.ready { "ready" } else { "not ready" },
                c.restarts,
                if ports.is_empty() {
                    String::new()
                } else {
                    format!("  ports {ports}")
                }
            )),
        ]));
    }
    let relevant: Vec<(&String, &String)> = i
        .labels
        .iter()
        .chain(i.annotations.iter())
        .filter(|(k, _)| crate::mesh::is_mesh_key(k))
        .collect();
    if !relevant.is_empty() {
        lines.push(Line::default());
        lines.push(head("MESH LABELS AND ANNOTATIONS"));
        for (k, v) in relevant {
            lines.push(kv(k, crate::app::format::fit(v, 120)));
        }
    }
    let key = (i.namespace.clone(), i.name.clone());
    let traffic = state.traffic.get(&key);
    let usage = state.usage_history.get(&key);
    // One row per sparkline; CPU and memory get taller stacked charts (app below, proxy on top).
    const STACK_ROWS: u16 = 3;
    let mut rows: Vec<(String, u16, Chart<'_>)> = Vec::new();
    if let Some(t) = traffic {
        rows.push((
            format!("RPS {:.1}", t.rps_history.last().unwrap_or(0.0)),
            1,
            Chart::Spark(&t.rps_history),
        ));
        rows.push((
            format!(
                "P99 {}",
                t.p99_history.last().map_or("-".into(), crate::app::format::millis)
            ),
            1,
            Chart::Spark(&t.p99_history),
        ));
    }
    if let Some(u) = usage {
        let last = |s: &Series| s.last().unwrap_or(0.0);
        let mib = |s: &Series| crate::app::format::mib(last(s) as u64);
        let cores = |s: &Series| crate::app::format::millicores(last(s));
        // A pod without a proxy of its own (not meshed, ambient) has no proxy figure: none, not 0.
        let (cpu, mem) = if p.mesh.proxy.is_some() {
            (
                format!("CPU {}/{}", cores(&u.cpu_app), cores(&u.cpu_proxy)),
                format!("MEM {}/{}", mib(&u.mem_app), mib(&u.mem_proxy)),
            )
        } else {
            (format!("CPU {}", cores(&u.cpu_app)), format!("MEM {}", mib(&u.mem_app)))
        };
        rows.push((cpu, STACK_ROWS, Chart::Stack(&u.cpu_app, &u.cpu_proxy)));
        rows.push((mem, STACK_ROWS, Chart::Stack(&u.mem_app, &u.mem_proxy)));
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let chart_rows = if rows.is_empty() {
        0
    } else {
        rows.iter().map(|r| r.1).sum::<u16>() + 1
    };
    let [text, chart_area] = Layout::vertical([Constraint::Min(0), Constraint::Length(chart_rows)]).areas(inner);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), text);
    if rows.is_empty() {
        return;
    }
    let header = Rect {
        height: 1,
        ..chart_area
    };
    frame.render_widget(
        Paragraph::new(Line::from(
            vec![Span::styled(
                format!("HISTORY (last {} samples at most)  ", Series::CAPACITY),
                Style::default().fg(t.title).add_modifier(Modifier::BOLD),
            )]
            .into_iter()
            .chain(super::stacked::legend(t))
            .collect::<Vec<_>>(),
        )),
        header,
    );
    let mut y = chart_area.y + 1;
    for (label, height, chart) in rows {
        let row = Rect {
            y,
            height,
            ..chart_area
        };
        y += height;
        let [l, plot] = Layout::horizontal([Constraint::Length(22), Constraint::Min(10)]).areas(row);
        frame.render_widget(
            Paragraph::new(Span::styled(format!("  {label}"), Style::default().fg(t.dim))),
            l,
        );
        let width = plot.width as usize;
        match chart {
            Chart::Spark(series) => {
                let data: Vec<u64> = series.tail(width).map(|x| x.max(0.0).round() as u64).collect();
                frame.render_widget(
                    Sparkline::default().data(&data).style(Style::default().fg(t.accent)),
                    plot,
                );
            }
            Chart::Stack(app, proxy) => {
                let values: Vec<(f64, f64)> = app.tail(width).zip(proxy.tail(width)).collect();
                frame.render_widget(super::stacked::app_proxy(t, &values), plot);
            }
        }
    }
}

enum Chart<'a> {
    Spark(&'a Series),
    /// App and proxy of the same samples.
    Stack(&'a Series, &'a Series),
}
