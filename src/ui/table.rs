//! Draws any table of the column registry (`app::table`). Only the visible slice of rows is
//! turned into cells; column widths come from those cells; on a narrow terminal the
//! columns with the highest drop rank are hidden first.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Row, Table as TableWidget};

use super::theme::Theme;
use crate::app::State;
use crate::app::state::ViewEntry;
use crate::app::table::{self, Column, Rows, Table, Tone, Width};

/// Draws table `T` for the open view entry, with its title, filter and why it is empty.
pub fn render<T: Table>(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let entry = state.entry();
    let rows = table::rows::<T>(state, entry);
    let title = entry.view.title();
    let empty = rows.is_empty().then(|| empty_reason(state, entry.view.resource()));
    draw::<T>(state, theme, frame, area, &rows, entry, &title, empty);
}

/// Draws `rows` (already filtered and sorted) of table `T` in a bordered box; `entry` gives
/// the selection and sort mark. The box keeps the selection in view; only the rows on
/// screen are looked up and turned into cells.
#[allow(clippy::too_many_arguments)]
pub fn draw<T: Table>(
    state: &State,
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
    rows: &Rows<'_, T>,
    entry: &ViewEntry,
    title: &str,
    empty: Option<String>,
) {
    // Two border rows and the header row.
    let page = area.height.saturating_sub(3) as usize;
    state.last_page.set(page.max(1));
    let columns = T::columns();
    let (start, end) = window(state, entry.selected, rows.len(), page);
    let cells: Vec<(Vec<String>, Option<Tone>)> = rows
        .slice(start, end)
        .into_iter()
        .map(|r| (columns.iter().map(|c| (c.cell)(state, r)).collect(), T::tone(state, r)))
        .collect();
    let sort = entry.sort_column.min(columns.len().saturating_sub(1));
    let headers: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mark = match (i == sort, entry.sort_reverse != c.descending) {
                (true, false) => "↑",
                (true, true) => "↓",
                _ => "",
            };
            format!("{}{mark}", c.header)
        })
        .collect();
    // Inside the borders, with one space between columns.
    let natural = natural_widths(&headers, &cells);
    let keep = fitting_columns(columns, &natural, area.width.saturating_sub(2) as usize);
    let widths = column_widths(columns, &natural, &keep);
    let header = Row::new(keep.iter().map(|&i| headers[i].clone())).style(theme.header());
    let selected = entry.selected.min(rows.len().saturating_sub(1));
    let body = cells.into_iter().enumerate().map(|(i, (cells, tone))| {
        let row = Row::new(keep.iter().map(|&c| cells[c].clone()).collect::<Vec<_>>());
        if start + i == selected {
            row.style(theme.selected())
        } else if let Some(t) = tone {
            row.style(theme.tone(t))
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
            format!(" {title}"),
            Style::default().fg(theme.title).add_modifier(Modifier::BOLD),
        ),
        Span::styled(filter, Style::default().fg(theme.accent)),
        Span::styled(format!(" [{}] ", rows.len()), Style::default().fg(theme.title)),
    ]);
    let mut block = Block::default()
        .borders(Borders::ALL)
        .border_style(Style::default().fg(theme.border))
        .title(title);
    if let Some(why) = empty {
        block = block.title_bottom(Line::from(Span::styled(why, Style::default().fg(theme.dim))));
    }
    let widget = TableWidget::new(body, widths)
        .header(header)
        .block(block)
        .column_spacing(1);
    frame.render_widget(widget, area);
}

/// Each column's widest visible cell or its header (with the sort mark).
fn natural_widths(headers: &[String], rows: &[(Vec<String>, Option<Tone>)]) -> Vec<usize> {
    (0..headers.len())
        .map(|i| {
            rows.iter()
                .map(|r| r.0[i].chars().count())
                .chain([headers[i].chars().count()])
                .max()
                .unwrap_or(1)
        })
        .collect()
}

/// Columns shown at this width: when the natural widths do not fit, the columns with the
/// highest drop rank are hidden first (METRICS, then IP, NODE...) instead of squeezing names.
fn fitting_columns<R>(columns: &[Column<R>], natural: &[usize], width: usize) -> Vec<usize> {
    let mut keep: Vec<usize> = (0..columns.len()).collect();
    let mut droppable: Vec<usize> = (0..columns.len()).filter(|&i| columns[i].drop > 0).collect();
    // Highest rank first; the sort is stable, so equal ranks drop right to left.
    droppable.sort_by_key(|&i| std::cmp::Reverse((columns[i].drop, i)));
    let total = |keep: &[usize]| keep.iter().map(|&i| natural[i] + 1).sum::<usize>();
    for i in droppable {
        if total(&keep) <= width {
            break;
        }
        keep.retain(|&k| k != i);
    }
    keep
}

/// Sizes the shown columns to their widest visible cell, like k9s; a Fill column (or the
/// last) takes what is left so the table spans the screen.
fn column_widths<R>(columns: &[Column<R>], natural: &[usize], keep: &[usize]) -> Vec<Constraint> {
    let fill = keep
        .iter()
        .position(|&i| columns[i].width == Width::Fill)
        .unwrap_or(keep.len().saturating_sub(1));
    keep.iter()
        .enumerate()
        .map(|(n, &i)| {
            if n == fill {
                Constraint::Fill(1)
            } else {
                Constraint::Length(natural[i] as u16)
            }
        })
        .collect()
}

/// Picks the visible slice and keeps the selection inside it, scrolling as little as possible.
fn window(state: &State, selected: usize, len: usize, page: usize) -> (usize, usize) {
    // Rows may have gone since the selection was made; the fold does not clamp it.
    let selected = selected.min(len.saturating_sub(1));
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
    } else if entry.view == crate::app::View::ControlPlanes {
        " no mesh control plane found in the watched namespaces ".into()
    } else {
        format!(" no {} ", resource.as_str())
    }
}
