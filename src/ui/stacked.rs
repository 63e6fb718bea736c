//! A stacked column chart of two series (app below, proxy on top), one column per sample,
//! drawn with eighth blocks: the sidecar's share of a pod's CPU or memory over time.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::Span;
use ratatui::widgets::Widget;

use super::theme::Theme;

const BLOCKS: [&str; 9] = [" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"];
/// Without colours the proxy's part is shaded, so app and proxy still read apart.
const SHADE: &str = "▒";

pub struct Stacked<'a> {
    /// (app, proxy) per column, oldest first; only the newest `area.width` are drawn.
    pub values: &'a [(f64, f64)],
    pub app: Color,
    pub proxy: Color,
    /// Draw the proxy's part shaded (no colours to tell it apart).
    pub mono: bool,
}

/// App below, proxy on top, in the theme's colours (or shaded without colours).
pub fn app_proxy<'a>(t: &Theme, values: &'a [(f64, f64)]) -> Stacked<'a> {
    Stacked {
        values,
        app: t.accent,
        proxy: t.warn,
        mono: t.mono,
    }
}

/// The key to the two parts, as the chart draws them.
pub fn legend(t: &Theme) -> Vec<Span<'static>> {
    let proxy = if t.mono { SHADE } else { "█" };
    vec![
        Span::styled("█ app ", Style::default().fg(t.accent)),
        Span::styled(format!("{proxy} proxy"), Style::default().fg(t.warn)),
    ]
}

impl Widget for Stacked<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.width == 0 || area.height == 0 {
            return;
        }
        let shown = &self.values[self.values.len().saturating_sub(area.width as usize)..];
        let max = shown.iter().map(|(a, p)| a + p).fold(0.0, f64::max);
        if max <= 0.0 {
            return;
        }
        let eighths = f64::from(area.height) * 8.0;
        for (x, (app, proxy)) in shown.iter().enumerate() {
            // Heights in eighths of a row; the boundary cell takes the colour of whichever
            // side fills more of it.
            let total = ((app + proxy) / max * eighths).round() as u32;
            let app_h = (app / max * eighths).round() as u32;
            for row in 0..u32::from(area.height) {
                let base = row * 8;
                if total <= base {
                    break;
                }
                let fill = (total - base).min(8) as usize;
                let app_part = app_h.saturating_sub(base).min(8);
                let app_cell = app_part * 2 >= fill as u32;
                let colour = if app_cell { self.app } else { self.proxy };
                // Shade fills whole cells: a proxy top under half a cell is left blank.
                let symbol = match (self.mono && !app_cell, fill) {
                    (true, f) if f >= 4 => SHADE,
                    (true, _) => " ",
                    (false, f) => BLOCKS[f],
                };
                let cell = &mut buf[(area.x + x as u16, area.y + area.height - 1 - row as u16)];
                cell.set_symbol(symbol).set_fg(colour);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_below_proxy_above() {
        let area = Rect::new(0, 0, 3, 2);
        let mut buf = Buffer::empty(area);
        // Max total is 4: 16 eighths. Column 0: 2 app + 2 proxy; column 1: all app (2);
        // column 2: nothing.
        Stacked {
            values: &[(2.0, 2.0), (2.0, 0.0), (0.0, 0.0)],
            app: Color::Blue,
            proxy: Color::Red,
            mono: false,
        }
        .render(area, &mut buf);
        assert_eq!(buf[(0, 1)].symbol(), "█");
        assert_eq!(buf[(0, 1)].fg, Color::Blue);
        assert_eq!(buf[(0, 0)].symbol(), "█");
        assert_eq!(buf[(0, 0)].fg, Color::Red);
        assert_eq!(buf[(1, 1)].symbol(), "█");
        assert_eq!(buf[(1, 0)].symbol(), " ");
        assert_eq!(buf[(2, 1)].symbol(), " ");
        // Without colours the proxy's part is shaded.
        let mut buf = Buffer::empty(area);
        Stacked {
            values: &[(2.0, 2.0)],
            app: Color::Reset,
            proxy: Color::Reset,
            mono: true,
        }
        .render(area, &mut buf);
        assert_eq!((buf[(0, 1)].symbol(), buf[(0, 0)].symbol()), ("█", SHADE));
    }
}
