//! A stacked column chart of two series (app below, proxy on top), one column per sample,
//! drawn with eighth blocks: the sidecar's share of a pod's CPU or memory over time.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::widgets::Widget;

const BLOCKS: [&str; 9] = [" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"];

pub struct Stacked<'a> {
    /// (app, proxy) per column, oldest first; only the newest `area.width` are drawn.
    pub values: &'a [(f64, f64)],
    pub app: Color,
    pub proxy: Color,
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
                let colour = if app_part * 2 >= fill as u32 {
                    self.app
                } else {
                    self.proxy
                };
                let cell = &mut buf[(area.x + x as u16, area.y + area.height - 1 - row as u16)];
                cell.set_symbol(BLOCKS[fill]).set_fg(colour);
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
        }
        .render(area, &mut buf);
        assert_eq!(buf[(0, 1)].symbol(), "█");
        assert_eq!(buf[(0, 1)].fg, Color::Blue);
        assert_eq!(buf[(0, 0)].symbol(), "█");
        assert_eq!(buf[(0, 0)].fg, Color::Red);
        assert_eq!(buf[(1, 1)].symbol(), "█");
        assert_eq!(buf[(1, 0)].symbol(), " ");
        assert_eq!(buf[(2, 1)].symbol(), " ");
    }
}
