//! The benchmark panel (progress, throughput against the target rate, live corrected
//! percentiles, the latency histogram, status codes and errors by kind, and the target
//! pods' CPU and memory with app and proxy apart), the session's runs, and the form.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Gauge, Paragraph, Wrap};

use super::stacked::{self, Stacked};
use super::theme::Theme;
use crate::app::State;
use crate::app::bench::{self, BenchSession, FIELDS};
use crate::app::format::{mib, millis};
use crate::app::table::{self, bench_runs::BenchRuns};
use crate::model::bench::{BenchProgress, Phase};

fn us(v: u64) -> String {
    millis(v as f64 / 1000.0)
}

pub fn render(state: &State, t: &Theme, frame: &mut Frame, area: Rect) {
    let runs = &state.benches;
    if runs.is_empty() {
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(Style::default().fg(t.border))
            .title(Span::styled(
                " bench ",
                Style::default().fg(t.title).add_modifier(Modifier::BOLD),
            ));
        let text = vec![
            Line::from("No benchmark run yet in this session."),
            Line::from(""),
            Line::from("  b            on a pod or workload: benchmark it (its IP and port, its pods' CPU and memory)"),
            Line::from("  :bench URL   any URL reachable from this machine"),
            Line::from("  :bench svc NS/NAME   a service (load-balancer address or ClusterIP)"),
        ];
        frame.render_widget(Paragraph::new(text).block(block), area);
        return;
    }
    let entry = state.entry();
    let rows = table::rows::<BenchRuns>(state, entry);
    let list_height = (runs.len() as u16 + 3).min(8).min(area.height / 3).max(4);
    let [panel, list] = Layout::vertical([Constraint::Min(10), Constraint::Length(list_height)]).areas(area);
    match rows.get(entry.selected.min(rows.len().saturating_sub(1))) {
        Some(run) => render_panel(state, t, frame, panel, run),
        None => frame.render_widget(
            Paragraph::new(Span::styled(
                " no run matches the filter (esc clears it)",
                Style::default().fg(t.dim),
            )),
            panel,
        ),
    }
    // A running sweep says how far it is and where its table is.
    let title = match state.sweeps.iter().rev().find(|s| s.running()) {
        Some(s) => format!(
            "sweep {}: {} of {} runs · 8 its table · x stops it · ↑↓ select",
            s.id,
            s.done(&state.benches),
            s.spec.runs()
        ),
        None => "runs this session · b new · x stop · ↑↓ select".to_string(),
    };
    super::table::draw::<BenchRuns>(state, t, frame, list, &rows, entry, &title, None);
}

fn render_panel(state: &State, t: &Theme, frame: &mut Frame, area: Rect, s: &BenchSession) {
    let mode = if s.config.rate > 0.0 {
        format!("{} req/s over {} conns", s.config.rate, s.config.connections)
    } else {
        format!("{} conns, closed loop", s.config.connections)
    };
    let http = if s.config.http2 { "HTTP/2" } else { "HTTP/1.1" };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(Style::default().fg(t.border))
        .title(Line::from(vec![
            Span::styled(
                format!(" bench #{} {} ", s.id, s.status()),
                Style::default().fg(t.title).add_modifier(Modifier::BOLD),
            ),
            Span::styled(
                format!("{} {} ", s.config.method, s.config.url),
                Style::default().fg(t.accent),
            ),
            Span::styled(
                format!("· {mode} · {http} · {} ", s.target.origin),
                Style::default().fg(t.dim),
            ),
            // Said where it cannot be missed: these figures were taken without checking who answered.
            Span::styled(
                if s.config.insecure && s.config.url.starts_with("https://") {
                    "· TLS not verified "
                } else {
                    ""
                },
                Style::default().fg(t.warn),
            ),
        ]));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let p = s.progress.clone().unwrap_or_else(|| BenchProgress::starting(&s.config));
    // An in-cluster run lists its agents (the stragglers and failures first) under the figures.
    let agent_rows = if s.agents.is_empty() {
        0
    } else {
        (s.agents.len().min(MAX_AGENT_ROWS) + 1) as u16
    };
    let [gauge, numbers, agents, charts, hint] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(7),
        Constraint::Length(agent_rows),
        Constraint::Min(4),
        Constraint::Length(2),
    ])
    .areas(inner);
    if !s.agents.is_empty() {
        render_agents(t, frame, agents, &s.agents);
    }

    // Progress: time (or requests) done of the run.
    let (ratio, label) = match (p.target_duration_s, p.target_requests) {
        _ if p.phase == Phase::Warmup => (0.0, format!("warm-up, {:.1}s left", p.warmup_left_s)),
        (Some(total), _) if total > 0.0 => (
            (p.elapsed_s / total).clamp(0.0, 1.0),
            format!("{:.1}s / {:.0}s", p.elapsed_s.min(total), total),
        ),
        (_, Some(n)) if n > 0 => (
            (p.requests as f64 / n as f64).clamp(0.0, 1.0),
            format!("{} / {n} requests", p.requests),
        ),
        _ => (0.0, "starting".into()),
    };
    let ratio = if s.result.is_some() { 1.0 } else { ratio };
    let phase = match (&s.result, p.phase) {
        (Some(r), _) if r.cancelled => "stopped (partial result kept)".to_string(),
        (Some(_), _) => "done".to_string(),
        (None, phase) => format!("{phase:?}").to_lowercase(),
    };
    frame.render_widget(
        Gauge::default()
            .gauge_style(Style::default().fg(t.accent).bg(t.bg))
            .ratio(ratio)
            .label(format!("{phase} · {label}")),
        gauge,
    );

    let [thr, lat, codes] = Layout::horizontal([
        Constraint::Percentage(34),
        Constraint::Percentage(33),
        Constraint::Percentage(33),
    ])
    .areas(numbers);
    let kv = |k: &str, v: String| {
        Line::from(vec![
            Span::styled(format!("{k:<14}"), Style::default().fg(t.dim)),
            Span::raw(v),
        ])
    };
    let head = |s: &str| {
        Line::from(Span::styled(
            s.to_string(),
            Style::default().fg(t.title).add_modifier(Modifier::BOLD),
        ))
    };
    let r = s.result.as_deref();
    let rps_line = match (r, p.requested_rate) {
        (Some(r), Some(want)) => format!("{:.1} of {want:.0} req/s", r.achieved_rate),
        (Some(r), None) => format!("{:.1} req/s", r.achieved_rate),
        (None, Some(want)) => format!("{:.1} of {want:.0} req/s", p.current_rps),
        (None, None) => format!("{:.1} req/s", p.current_rps),
    };
    let throughput = vec![
        head("THROUGHPUT"),
        kv("rate", rps_line),
        kv("requests", format!("{} sent, {} answered", p.requests, p.responses)),
        kv(
            "bytes",
            format!("{} out, {} in", mib(p.bytes_sent), mib(p.bytes_received)),
        ),
        kv(
            "connections",
            r.map_or_else(
                || s.config.connections.to_string(),
                |r| format!("{} opened, {} reconnects", r.connections_opened, r.reconnects),
            ),
        ),
        // The report says why; here, whether meshtop chose the count (see `bench::config`).
        kv(
            "threads",
            match &s.config.threads_note {
                _ if !s.agents.is_empty() => "each agent's own".to_string(),
                Some(_) => format!("{} (default)", s.config.worker_threads()),
                None => s.config.worker_threads().to_string(),
            },
        ),
    ];
    frame.render_widget(Paragraph::new(throughput), thr);
    let mut latency = vec![
        head("LATENCY (corrected)"),
        kv("p50 / p90", format!("{} / {}", us(p.p50_us), us(p.p90_us))),
        kv("p99 / p99.9", format!("{} / {}", us(p.p99_us), us(p.p999_us))),
    ];
    if let Some(r) = r {
        latency.push(kv("max", us(r.latency.max)));
        latency.push(kv(
            "uncorrected",
            format!(
                "p50 {} p99 {}",
                us(r.latency_uncorrected.p50),
                us(r.latency_uncorrected.p99)
            ),
        ));
    }
    frame.render_widget(Paragraph::new(latency), lat);
    let mut status = vec![head("STATUS · ERRORS")];
    let codes_line = p
        .status
        .iter()
        .map(|(c, n)| format!("{c}: {n}"))
        .collect::<Vec<_>>()
        .join("  ");
    let width = codes.width as usize;
    let dim = Style::default().fg(t.dim);
    let codes_line = if codes_line.is_empty() {
        "none yet".to_string()
    } else {
        codes_line
    };
    status.extend(super::labelled("status", 14, &codes_line, width, dim, Style::default()));
    let e = &p.errors;
    // Only the kinds that happened; each stays whole, wrapping under the others.
    let kinds: Vec<String> = [
        ("connect", e.connect),
        ("timeout", e.timeout),
        ("reset", e.reset),
        ("tls", e.tls),
        ("other", e.other),
    ]
    .iter()
    .filter(|(_, n)| *n > 0)
    .map(|(k, n)| format!("{k}\u{a0}{n}"))
    .collect();
    if kinds.is_empty() {
        status.extend(super::labelled("errors", 14, "none", width, dim, Style::default()));
    } else {
        let style = t.tone(crate::app::table::Tone::Error);
        status.extend(super::labelled("errors", 14, &kinds.join(" · "), width, dim, style));
    }
    if let Some(r) = r {
        status.push(kv("success", format!("{:.2}%", r.success_ratio() * 100.0)));
    }
    frame.render_widget(Paragraph::new(status), codes);

    // The histogram and the target pods' cost, side by side.
    let [hist, cost] = Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(charts);
    let [hist_title, hist_plot, hist_axis] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(1), Constraint::Length(1)]).areas(hist);
    frame.render_widget(
        Paragraph::new(head("LATENCY HISTOGRAM (count per bin, log-spaced)")),
        hist_title,
    );
    let bins = &p.histogram;
    let values: Vec<(f64, f64)> = bins.iter().map(|b| (b.count as f64, 0.0)).collect();
    let width = (values.len() as u16).min(hist_plot.width);
    // Stretch each bin over several columns when there is room.
    let per = if width > 0 {
        (hist_plot.width / width.max(1)).max(1)
    } else {
        1
    };
    let stretched: Vec<(f64, f64)> = values
        .iter()
        .flat_map(|v| std::iter::repeat_n(*v, per as usize))
        .collect();
    frame.render_widget(
        Stacked {
            values: &stretched,
            app: t.accent,
            proxy: t.accent,
            mono: false,
        },
        hist_plot,
    );
    if let (Some(first), Some(last)) = (bins.first(), bins.last()) {
        let left = us(first.start);
        let right = us(last.end);
        let pad = (stretched.len() as u16).saturating_sub((left.len() + right.len()) as u16) as usize;
        frame.render_widget(
            Paragraph::new(Span::styled(
                format!("{left}{}{right}", " ".repeat(pad)),
                Style::default().fg(t.dim),
            )),
            hist_axis,
        );
    }

    let [cost_title, cost_now, cost_cpu, cost_mem] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(2),
        Constraint::Fill(1),
        Constraint::Fill(1),
    ])
    .areas(cost);
    let mut title = vec![Span::styled(
        format!("TARGET PODS ({})  ", s.target.pods.len()),
        Style::default().fg(t.title).add_modifier(Modifier::BOLD),
    )];
    title.extend(stacked::legend(t));
    frame.render_widget(Paragraph::new(Line::from(title)), cost_title);
    let now = bench::target_usage(state, &s.target);
    let now_text = match now {
        Some((ac, pc, am, pm)) => format!(
            "cpu {ac:.0}m app / {pc:.0}m proxy   mem {} app / {} proxy",
            mib(am as u64),
            mib(pm as u64)
        ),
        None if s.target.pods.is_empty() => {
            "no pods known for this URL: start the run with b on a pod or workload to see their CPU and memory".into()
        }
        None => format!(
            "no CPU/memory for these pods yet: {}",
            crate::app::figures::usage_gap(state)
        ),
    };
    frame.render_widget(
        Paragraph::new(Span::styled(now_text, Style::default().fg(t.dim))).wrap(Wrap { trim: true }),
        cost_now,
    );
    let cpu: Vec<(f64, f64)> = s.usage.iter().map(|u| (u.0, u.1)).collect();
    let mem: Vec<(f64, f64)> = s.usage.iter().map(|u| (u.2, u.3)).collect();
    frame.render_widget(stacked::app_proxy(t, &cpu), cost_cpu);
    frame.render_widget(stacked::app_proxy(t, &mem), cost_mem);

    let message = s.error.clone().or_else(|| bench::reachability_hint(state, s));
    if let Some(m) = message {
        frame.render_widget(
            Paragraph::new(Span::styled(
                m,
                Style::default().fg(t.warn).add_modifier(Modifier::BOLD),
            ))
            .wrap(Wrap { trim: true }),
            hint,
        );
    }
}

/// `lines` in `block`, centred over `full`, as tall as what they say.
fn popup(frame: &mut Frame, full: Rect, width: u16, lines: Vec<Line<'static>>, block: Block<'static>) {
    let height = (lines.len() as u16 + 2).min(full.height);
    let area = Rect {
        x: full.x + (full.width - width) / 2,
        y: full.y + (full.height - height) / 2,
        width,
        height,
    };
    frame.render_widget(Clear, area);
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// Agents listed at most in an in-cluster run's panel; the rest are counted.
const MAX_AGENT_ROWS: usize = 6;

/// Each agent of an in-cluster run: its pod, state, rate and share; stragglers and
/// failures first, so the rows that matter are the ones shown.
fn render_agents(t: &Theme, frame: &mut Frame, area: Rect, agents: &[crate::model::bench::AgentStatus]) {
    use crate::model::bench::AgentPhase;
    let count = |ph: AgentPhase| agents.iter().filter(|a| a.state == ph).count();
    let behind = agents.iter().filter(|a| a.behind).count();
    let mut head = format!(
        "AGENTS  {} running · {} done · {} waiting · {} failed",
        count(AgentPhase::Running),
        count(AgentPhase::Done),
        count(AgentPhase::Waiting),
        count(AgentPhase::Failed)
    );
    if behind > 0 {
        head.push_str(&format!(" · {behind} behind"));
    }
    let mut order: Vec<&crate::model::bench::AgentStatus> = agents.iter().collect();
    order.sort_by_key(|a| (a.state != AgentPhase::Failed, !a.behind, a.index));
    let shown = if agents.len() > MAX_AGENT_ROWS {
        MAX_AGENT_ROWS - 1
    } else {
        MAX_AGENT_ROWS
    };
    let mut lines = vec![Line::from(Span::styled(
        head,
        Style::default().fg(t.title).add_modifier(Modifier::BOLD),
    ))];
    let width = area.width as usize;
    for a in order.iter().take(shown) {
        let (state, style) = match a.state {
            AgentPhase::Failed => ("failed", t.tone(crate::app::table::Tone::Error)),
            _ if a.behind => ("behind", Style::default().fg(t.warn)),
            AgentPhase::Running => ("running", Style::default()),
            AgentPhase::Done => ("done", Style::default().fg(t.dim)),
            AgentPhase::Waiting => ("waiting", Style::default().fg(t.dim)),
        };
        let detail = match (&a.why, a.state) {
            // The pod is in its own column.
            (Some(why), _) => a
                .pod
                .as_ref()
                .and_then(|p| why.strip_prefix(&format!("pod {p} ")))
                .unwrap_or(why)
                .to_string(),
            (None, AgentPhase::Running) => format!("{:.0} req/s · {}", a.rate, a.share),
            (None, _) => a.share.clone(),
        };
        let text = format!(
            " {:>3}  {:<8} {:>9} req  {}  {}",
            a.index,
            state,
            a.requests,
            a.pod.as_deref().unwrap_or("(no pod yet)"),
            detail
        );
        lines.push(Line::from(Span::styled(crate::text::fit(&text, width), style)));
    }
    if agents.len() > shown {
        lines.push(Line::from(Span::styled(
            format!(" … {} more agents", agents.len() - shown),
            Style::default().fg(t.dim),
        )));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// The question before a write to the cluster, over the form: every object named, with
/// its namespace.
pub fn render_confirm(state: &State, t: &Theme, frame: &mut Frame) {
    let Some(c) = &state.confirm else { return };
    let full = frame.area();
    let width = full.width.saturating_sub(8).min(110);
    let inner = width.saturating_sub(2) as usize;
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(Style::default().fg(t.warn))
        .title(Span::styled(
            " writes to the cluster ",
            Style::default().fg(t.warn).add_modifier(Modifier::BOLD),
        ));
    let mut lines = super::labelled(
        " ",
        1,
        &c.title,
        inner,
        Style::default(),
        Style::default().add_modifier(Modifier::BOLD),
    );
    lines.push(Line::default());
    for w in &c.writes {
        lines.extend(super::labelled(
            " •",
            3,
            w,
            inner,
            Style::default().fg(t.warn),
            Style::default(),
        ));
    }
    lines.push(Line::default());
    lines.push(Line::from(vec![
        Span::styled(" y", Style::default().fg(t.accent).add_modifier(Modifier::BOLD)),
        Span::raw(" creates them   "),
        Span::styled("n", Style::default().fg(t.accent).add_modifier(Modifier::BOLD)),
        Span::raw(" or "),
        Span::styled("esc", Style::default().fg(t.accent).add_modifier(Modifier::BOLD)),
        Span::raw(" goes back, nothing created"),
    ]));
    popup(frame, full, width, lines, block);
}

/// The form, drawn over whatever view is open.
pub fn render_form(state: &State, t: &Theme, frame: &mut Frame) {
    let Some(form) = &state.bench_form else { return };
    let full = frame.area();
    let width = full.width.saturating_sub(8).min(110);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(Style::default().fg(t.accent))
        .title(Span::styled(
            format!(" new benchmark · {} ", form.target.origin),
            Style::default().fg(t.title).add_modifier(Modifier::BOLD),
        ));
    let mut lines = Vec::new();
    for (i, f) in FIELDS.iter().enumerate() {
        let focused = i == form.focus;
        let mut value = form.value(*f).to_string();
        if f.is_choice() {
            value = format!("‹ {value} ›");
        }
        if focused && !f.is_choice() {
            value.push('▏');
        }
        let style = if focused {
            Style::default().fg(t.selected_fg).bg(t.selected_bg)
        } else {
            Style::default()
        };
        lines.push(Line::from(vec![
            Span::styled(format!(" {:<14}", f.label()), Style::default().fg(t.dim)),
            Span::styled(value, style),
        ]));
    }
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(
        " headers: `Name: value; Other: value` · a body makes it a POST",
        Style::default().fg(t.dim),
    )));
    for hint in [
        " sweep steps: 8,16,32 (connections; rates in rate mode) make a sweep",
        " baseline URL: run before this one in each step, its slowdown base",
        " agents: N pods in the cluster send the load (needs --allow-writes)",
    ] {
        lines.push(Line::from(Span::styled(hint, Style::default().fg(t.dim))));
    }
    // Inside the borders; notes and errors wrap under themselves.
    let inner = width.saturating_sub(2) as usize;
    if let Some(note) = &form.note {
        lines.extend(super::labelled(
            "",
            1,
            note,
            inner,
            Style::default(),
            Style::default().fg(t.warn),
        ));
    }
    if let Some(e) = &form.error {
        let style = Style::default().fg(t.error).add_modifier(Modifier::BOLD);
        lines.extend(super::labelled(" ✗", 3, e, inner, style, style));
    }
    // As tall as what it says.
    popup(frame, full, width, lines, block);
}
