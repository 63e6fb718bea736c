//! The main table. Only the visible slice of rows is turned into widgets.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Row, Table};

use super::format::age;
use crate::app::query;
use crate::app::{State, View};

pub fn render(state: &State, frame: &mut Frame, area: Rect) {
    let theme = state.theme();
    let entry = state.entry();
    // Two border rows and the header row.
    let page = area.height.saturating_sub(3) as usize;
    state.last_page.set(page.max(1));

    let (total, rows): (usize, Vec<Vec<String>>) = match entry.view {
        View::Pods => {
            let pods = query::pods(state, entry);
            let (start, end) = window(state, pods.len(), page);
            let rows = pods[start..end]
                .iter()
                .map(|p| {
                    vec![
                        p.namespace.clone(),
                        p.name.clone(),
                        p.phase.clone(),
                        format!("{}/{}", p.ready, p.containers),
                        p.restarts.to_string(),
                        p.node.clone().unwrap_or_else(|| "<unscheduled>".into()),
                        p.ip.clone().unwrap_or_else(|| "<none>".into()),
                        age(state.now, p.created),
                    ]
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
                    vec![
                        r.ns.name.clone(),
                        r.ns.phase.clone(),
                        r.pods.to_string(),
                        r.running.to_string(),
                        age(state.now, r.ns.created),
                    ]
                })
                .collect();
            (nss.len(), rows)
        }
    };

    let columns = query::columns(entry.view);
    let widths = column_widths(columns, &rows);
    let header = Row::new(columns.iter().enumerate().map(|(i, c)| {
        let mark = match (i == entry.sort_column, entry.sort_reverse) {
            (true, false) => "↑",
            (true, true) => "↓",
            _ => "",
        };
        Cell::from(format!("{c}{mark}"))
    }))
    .style(
        Style::default()
            .fg(theme.header_fg)
            .bg(theme.header_bg)
            .add_modifier(Modifier::BOLD),
    );

    let offset = state.scroll.get();
    let body = rows.into_iter().enumerate().map(|(i, cells)| {
        let row = Row::new(cells);
        if offset + i == entry.selected {
            row.style(Style::default().fg(theme.selected_fg).bg(theme.selected_bg))
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
            Style::default()
                .fg(theme.title)
                .add_modifier(Modifier::BOLD),
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
            empty_reason(state),
            Style::default().fg(theme.dim),
        )));
    }
    let table = Table::new(body, widths)
        .header(header)
        .block(block)
        .column_spacing(1);
    frame.render_widget(table, area);
}

/// Sizes columns to the widest visible cell (plus the sort mark), like k9s; the last
/// column takes what is left so the table always spans the screen.
fn column_widths(columns: &[&str], rows: &[Vec<String>]) -> Vec<Constraint> {
    let n = columns.len();
    (0..n)
        .map(|i| {
            let widest = rows
                .iter()
                .map(|r| r[i].chars().count())
                .chain([columns[i].len() + 1])
                .max()
                .unwrap_or(1);
            if i + 1 == n {
                Constraint::Fill(1)
            } else {
                Constraint::Length(widest as u16)
            }
        })
        .collect()
}

/// Picks the visible slice and keeps the selection inside it, scrolling as little as possible.
fn window(state: &State, len: usize, page: usize) -> (usize, usize) {
    let selected = state.entry().selected;
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
fn empty_reason(state: &State) -> String {
    let entry = state.entry();
    let resource = match entry.view {
        View::Pods => crate::model::Resource::Pods,
        View::Namespaces => crate::model::Resource::Namespaces,
    };
    if let Some(e) = state.errors.get(&resource) {
        format!(" {} {}: {} ", resource.as_str(), e.kind.label(), e.message)
    } else if !state.synced.contains(&resource) {
        format!(" loading {}… ", resource.as_str())
    } else if !entry.filter.is_empty() {
        " nothing matches the filter (esc clears it) ".into()
    } else {
        format!(" no {} ", resource.as_str())
    }
}
