//! Charts of a run, drawn from its aggregates (percentile sketches), never from paths.
//!
//! Each chart is one function that takes display-ready data ($B, %, calendar years) and returns
//! the encoded bytes: PNG (plotters' bitmap backend into an RGB buffer, encoded with `png`) or
//! SVG. Nothing here touches the filesystem. Text uses DejaVu Sans, embedded in the binary, so
//! charts render the same on a machine without fonts. [`render_charts`] turns a run's
//! aggregates into every chart the scenario supports.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use crate::analysis::sensitivity::{Scatter, SensitivityRow};
use crate::engine::Aggregates;
use crate::engine::metrics::Scope;
use crate::engine::stats::QuantileSketch;
use crate::format;
use crate::io::history::History;
use crate::report::catalogue::{Catalogue, capitalized};
use crate::report::{OutcomeRow, OutcomeTable};
use crate::scenario::{Scalar, Scenario};
use crate::terms::{CommitmentWindow, Term};

/// Size of every single-panel and two-panel chart, in pixels.
pub const WIDTH: u32 = 1400;
pub const HEIGHT: u32 = 800;

const FONT: &str = "sans-serif";
const REGULAR_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const BOLD_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

const TITLE_SIZE: u32 = 30;
const PANEL_TITLE_SIZE: u32 = 22;
const AXIS_DESC_SIZE: u32 = 19;
const TICK_SIZE: u32 = 16;
const LEGEND_SIZE: u32 = 16;
const NOTE_SIZE: u32 = 17;

/// Opacity of the 5th–95th and 25th–75th percentile bands.
const OUTER_BAND: f64 = 0.16;
const INNER_BAND: f64 = 0.34;
/// Even: plotters turns a line wider than a pixel into a polygon whose end vertices are rounded
/// and whose inner vertices are truncated, so at an odd width a level line steps by a pixel
/// over its first and last segments (a median that looked like it dipped at the chart's ends).
const MEDIAN_WIDTH: u32 = 4;
/// Quantiles read from a sketch to build a histogram (each stands for 1/N of the paths).
const HISTOGRAM_QUANTILES: usize = 4000;
const HISTOGRAM_BINS: usize = 40;

/// Tableau 10: distinct, colour-blind-friendlier series colours.
const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
];
const INK: RGBColor = RGBColor(33, 33, 33);
const MUTED: RGBColor = RGBColor(110, 110, 110);
const LIMIT: RGBColor = RGBColor(200, 30, 30);
const GRID: RGBColor = RGBColor(225, 225, 225);
const GRID_BOLD: RGBColor = RGBColor(200, 200, 200);

fn color(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

/// How charts are encoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ChartFormat {
    #[default]
    Png,
    Svg,
}

impl ChartFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ChartFormat::Png => "png",
            ChartFormat::Svg => "svg",
        }
    }

    /// The MIME type, for data URIs.
    pub fn mime(self) -> &'static str {
        match self {
            ChartFormat::Png => "image/png",
            ChartFormat::Svg => "image/svg+xml",
        }
    }

    pub fn parse(text: &str) -> Option<ChartFormat> {
        match text {
            "png" => Some(ChartFormat::Png),
            "svg" => Some(ChartFormat::Svg),
            _ => None,
        }
    }
}

/// One encoded chart and how to read it.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// A file name (no directory), e.g. `revenue-openai.png`.
    pub file_name: String,
    pub title: String,
    /// One line: how to read the chart.
    pub caption: String,
    pub format: ChartFormat,
    pub bytes: Vec<u8>,
}

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("the embedded chart font could not be loaded")]
    Font,
    #[error("drawing a chart failed: {0}")]
    Draw(String),
    #[error("encoding a chart as PNG failed: {0}")]
    Encode(#[from] png::EncodingError),
}

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for ChartError {
    fn from(error: DrawingAreaErrorKind<E>) -> Self {
        ChartError::Draw(error.to_string())
    }
}

/// Registers the embedded DejaVu Sans as plotters' `sans-serif`, once per process.
fn register_fonts() -> Result<(), ChartError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let registered = *REGISTERED.get_or_init(|| {
        register_font(FONT, FontStyle::Normal, REGULAR_TTF).is_ok()
            && register_font(FONT, FontStyle::Bold, BOLD_TTF).is_ok()
    });
    if registered { Ok(()) } else { Err(ChartError::Font) }
}

fn encode_png(pixels: &[u8], width: u32, height: u32) -> Result<Vec<u8>, ChartError> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    // Flat colours compress well even at the fast setting; the default costs ~3x the time.
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(pixels)?;
    writer.finish()?;
    Ok(bytes)
}

/// Draws `$body` on a white `$root` of the given size, on the bitmap or the SVG backend, and
/// evaluates to the encoded bytes. The body is generic code instantiated once per backend.
macro_rules! render {
    ($format:expr, ($width:expr, $height:expr), |$root:ident| $body:block) => {{
        register_fonts()?;
        let (width, height): (u32, u32) = ($width, $height);
        match $format {
            ChartFormat::Png => {
                let mut pixels = vec![255u8; width as usize * height as usize * 3];
                {
                    let $root = BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
                    $root.fill(&WHITE)?;
                    $body
                    $root.present()?;
                }
                encode_png(&pixels, width, height)
            }
            ChartFormat::Svg => {
                let mut svg = String::new();
                {
                    let $root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
                    $root.fill(&WHITE)?;
                    $body
                    $root.present()?;
                }
                Ok(svg.into_bytes())
            }
        }
    }};
}

/// Horizontal rows (bars or boxes), labelled from the top, against money along x: no horizontal
/// grid, a label centred on each row.
macro_rules! row_mesh {
    ($chart:expr, $x_desc:expr, $labels:expr) => {
        $chart
            .configure_mesh()
            .y_labels($labels.len().max(1) * 2 + 1)
            .disable_y_mesh()
            .max_light_lines(0)
            .x_labels(8)
            .x_desc($x_desc)
            .x_label_formatter(&money_tick)
            .y_label_formatter(&|y: &f64| row_label($labels, *y))
            .axis_desc_style((FONT, AXIS_DESC_SIZE).into_font().color(&INK))
            .label_style((FONT, TICK_SIZE).into_font().color(&INK))
            .bold_line_style(GRID.stroke_width(1))
            .axis_style(MUTED.stroke_width(1))
            .draw()?
    };
}

/// The label of the row whose middle a tick at `y` marks (rows of height 1, the first at the
/// top); none between rows.
fn row_label(labels: &[String], y: f64) -> String {
    let index = labels.len().max(1) as f64 - y - 0.5;
    if (index - index.round()).abs() < 1e-6 && index >= 0.0 {
        labels.get(index.round() as usize).cloned().unwrap_or_default()
    } else {
        String::new()
    }
}

/// Grid lines, axis descriptions and tick labels, the same on every chart.
macro_rules! mesh {
    ($chart:expr, $x_labels:expr, $x_desc:expr, $y_desc:expr, $x_format:expr, $y_format:expr) => {
        $chart
            .configure_mesh()
            .x_labels($x_labels)
            .max_light_lines(1)
            .x_desc($x_desc)
            .y_desc($y_desc)
            .x_label_formatter($x_format)
            .y_label_formatter($y_format)
            .axis_desc_style((FONT, AXIS_DESC_SIZE).into_font().color(&INK))
            .label_style((FONT, TICK_SIZE).into_font().color(&INK))
            .bold_line_style(GRID_BOLD.stroke_width(1))
            .light_line_style(GRID.stroke_width(1))
            .axis_style(MUTED.stroke_width(1))
            .draw()?
    };
}

/// The legend box, the same on every chart.
macro_rules! legend {
    ($chart:expr, $position:expr) => {
        $chart
            .configure_series_labels()
            .position($position)
            .label_font((FONT, LEGEND_SIZE).into_font().color(&INK))
            .background_style(WHITE.mix(0.9))
            .border_style(MUTED.stroke_width(1))
            .margin(12)
            .draw()?
    };
}

fn title_style() -> TextStyle<'static> {
    (FONT, TITLE_SIZE, FontStyle::Bold).into_font().color(&INK)
}

fn panel_title_style() -> TextStyle<'static> {
    (FONT, PANEL_TITLE_SIZE).into_font().color(&INK)
}

fn note_style() -> TextStyle<'static> {
    (FONT, NOTE_SIZE).into_font().color(&INK)
}

/// Percentile bands of a series over time, in display units.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bands {
    /// Fractional calendar year at the end of each period.
    pub x: Vec<f64>,
    pub p05: Vec<f64>,
    pub p25: Vec<f64>,
    pub p50: Vec<f64>,
    pub p75: Vec<f64>,
    pub p95: Vec<f64>,
}

impl Bands {
    fn max(&self) -> f64 {
        self.p95.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    }

    fn min(&self) -> f64 {
        self.p05.iter().copied().fold(f64::INFINITY, f64::min)
    }

    fn first_x(&self) -> f64 {
        self.x.first().copied().unwrap_or(0.0)
    }

    fn last_x(&self) -> f64 {
        self.x.last().copied().unwrap_or(1.0)
    }
}

/// A level that may be uncertain: its median and 5th–95th percentile range (display units).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Level {
    pub median: f64,
    pub p05: f64,
    pub p95: f64,
}

impl Level {
    pub fn fixed(value: f64) -> Level {
        Level { median: value, p05: value, p95: value }
    }

    fn uncertain(&self) -> bool {
        self.p95 > self.p05
    }
}

/// Shares of paths per bin: `shares[i]` in percent of all paths, for `edges[i]..edges[i + 1]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Histogram {
    pub edges: Vec<f64>,
    pub shares: Vec<f64>,
}

impl Histogram {
    fn is_empty(&self) -> bool {
        self.shares.iter().all(|&share| share <= 0.0)
    }

    fn max_share(&self) -> f64 {
        self.shares.iter().copied().fold(0.0, f64::max)
    }

    fn range(&self) -> Range<f64> {
        match (self.edges.first(), self.edges.last()) {
            (Some(&low), Some(&high)) if high > low => low..high,
            (Some(&low), _) => low - 1.0..low + 1.0,
            _ => 0.0..1.0,
        }
    }

    /// The outline of the bars, for overlaying several histograms.
    fn steps(&self) -> Vec<(f64, f64)> {
        let mut points = Vec::with_capacity(2 * self.shares.len() + 2);
        if let Some(&first) = self.edges.first() {
            points.push((first, 0.0));
        }
        for (i, &share) in self.shares.iter().enumerate() {
            points.push((self.edges[i], share));
            points.push((self.edges[i + 1], share));
        }
        if let Some(&last) = self.edges.last() {
            points.push((last, 0.0));
        }
        points
    }
}

/// Bars by category (calendar years, then "never"), in percent of all paths.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bars {
    pub labels: Vec<String>,
    pub shares: Vec<f64>,
}

/// One holder's equity in a deal: stake over time (percent) and value at the horizon ($B).
#[derive(Clone, Debug, PartialEq)]
pub struct Holding {
    pub party: String,
    pub stake: Bands,
    pub value: Histogram,
}

/// One party's NPV distribution under each deal ($B).
#[derive(Clone, Debug, PartialEq)]
pub struct PartyNpv {
    pub party: String,
    pub deals: Vec<(String, Histogram)>,
}

/// Money in $B for tick labels: `$250B`, `$2.5B`, `$0.05B`, `−$40B`, `$1.2T`.
pub fn money_tick(billions: &f64) -> String {
    format::money_short(billions * B)
}

/// A point in time that ends a period: `2034.0` → `end of 2033`, `2033.75` → `end of 2033-Q3`.
fn year_end_label(year: f64) -> String {
    let whole = year.floor();
    let quarter = ((year - whole) * 4.0).round() as i32;
    if quarter == 0 { format!("end of {}", whole - 1.0) } else { format!("end of {whole}-Q{quarter}") }
}

fn year_tick(value: &f64) -> String {
    format!("{:.0}", value.round())
}

/// A value in percent (12.5 is 12.5%) for tick labels.
fn percent_tick(value: &f64) -> String {
    format::percent_short(value / 100.0)
}

/// How many x labels make plotters put one on every whole year of `range`.
fn year_labels(range: &Range<f64>) -> usize {
    (range.end - range.start).floor().max(1.0) as usize + 1
}

/// Ticks for a logarithmic axis over `range` (positive): 1-2-5 in each decade, or 1-3 when
/// the range spans more than `dense_decades` decades.
///
/// The decades are counted by exponent, within f64's (10^-324 to 10^308): a loop that multiplied
/// a decade by 10 until it passed the end never ended for an end of infinity or a start of 0
/// (or below 10^-323, where the first decade rounds to 0).
fn log_ticks(range: &Range<f64>, dense_decades: f64) -> Vec<f64> {
    let steps: &[f64] = if (range.end / range.start).log10() > dense_decades { &[1.0, 3.0] } else { &[1.0, 2.0, 5.0] };
    let exponent = |value: f64| value.log10().floor().clamp(-324.0, 308.0) as i32;
    if !(range.start > 0.0 && range.start <= range.end) {
        return Vec::new();
    }
    let mut ticks = Vec::new();
    for decade in exponent(range.start)..=exponent(range.end) {
        for &step in steps {
            let tick = 10f64.powi(decade) * step;
            if tick >= range.start && tick <= range.end {
                ticks.push(tick);
            }
        }
    }
    ticks
}

/// The polygon between a band's lower and upper edges.
fn band_polygon(x: &[f64], low: &[f64], high: &[f64]) -> Vec<(f64, f64)> {
    let mut points: Vec<(f64, f64)> = x.iter().copied().zip(high.iter().copied()).collect();
    points.extend(x.iter().copied().zip(low.iter().copied()).rev());
    points
}

/// Years of actuals a revenue fan shows before the simulation start.
const ACTUAL_YEARS: f64 = 2.0;

/// Fan chart of a stream's annualized revenue run-rate ($B per year, log scale), with the
/// reported actuals drawn before the simulation start.
pub fn revenue_fan(
    stream: &str,
    run_rate: &Bands,
    history: Option<&History>,
    start_year: f64,
    format: ChartFormat,
) -> Result<Vec<u8>, ChartError> {
    let history = history.filter(|h| !h.is_empty());
    // Actuals from a few years before the start: older ones, orders of magnitude smaller,
    // would stretch the log axis and squeeze the forecast.
    let recent = |point: &(f64, f64)| point.0 >= start_year - ACTUAL_YEARS;
    let actual_run_rate: Vec<(f64, f64)> =
        history.map_or_else(Vec::new, |h| h.run_rate.iter().map(|&(x, v)| (x, v / 1e9)).filter(recent).collect());
    let actual_revenue: Vec<(f64, f64)> = history.map_or_else(Vec::new, |h| {
        h.annual_revenue.iter().map(|&(year, v)| (f64::from(year) + 0.5, v / 1e9)).filter(recent).collect()
    });
    let actual_low = actual_run_rate.iter().chain(&actual_revenue).map(|p| p.1).fold(f64::INFINITY, f64::min);
    let actual_first = actual_run_rate.iter().chain(&actual_revenue).map(|p| p.0).fold(f64::INFINITY, f64::min);
    let low = (run_rate.min().min(actual_low) / 1.6).max(1e-3);
    let high = run_rate.max() * 1.6;
    let x_range = (actual_first.min(start_year).floor() - 0.1)..run_rate.last_x() + 0.1;
    let y_range = low..high;
    render!(format, (WIDTH, HEIGHT), |root| {
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("{stream}: annualized revenue run-rate"), title_style())
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(100)
            .build_cartesian_2d(
                x_range.clone(),
                y_range.clone().log_scale().with_key_points(log_ticks(&y_range, 6.0)),
            )?;
        mesh!(
            chart,
            year_labels(&x_range),
            "year",
            "revenue run-rate ($B per year, log scale)",
            &year_tick,
            &money_tick
        );
        let series = &run_rate.x;
        let blue = color(0);
        chart
            .draw_series(std::iter::once(Polygon::new(
                band_polygon(series, &run_rate.p05, &run_rate.p95),
                blue.mix(OUTER_BAND).filled(),
            )))?
            .label("5th–95th percentile")
            .legend(move |(x, y)| Rectangle::new([(x, y - 7), (x + 20, y + 7)], blue.mix(OUTER_BAND).filled()));
        chart
            .draw_series(std::iter::once(Polygon::new(
                band_polygon(series, &run_rate.p25, &run_rate.p75),
                blue.mix(INNER_BAND).filled(),
            )))?
            .label("25th–75th percentile")
            .legend(move |(x, y)| Rectangle::new([(x, y - 7), (x + 20, y + 7)], blue.mix(INNER_BAND).filled()));
        chart
            .draw_series(LineSeries::new(
                series.iter().copied().zip(run_rate.p50.iter().copied()),
                blue.stroke_width(MEDIAN_WIDTH),
            ))?
            .label("median")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], blue.stroke_width(MEDIAN_WIDTH)));
        chart.draw_series(DashedLineSeries::new(
            [(start_year, low), (start_year, high)],
            8,
            6,
            MUTED.stroke_width(2),
        ))?;
        chart.draw_series(std::iter::once(Text::new(
            " simulation start",
            (start_year, low * 1.15),
            note_style().pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Left,
                plotters::style::text_anchor::VPos::Bottom,
            )),
        )))?;
        if !actual_run_rate.is_empty() {
            chart
                .draw_series(actual_run_rate.iter().map(|&point| Circle::new(point, 6, INK.filled())))?
                .label("actual run-rate (reported)")
                .legend(|(x, y)| Circle::new((x + 10, y), 6, INK.filled()));
        }
        if !actual_revenue.is_empty() {
            chart
                .draw_series(actual_revenue.iter().map(|&point| TriangleMarker::new(point, 8, color(1).filled())))?
                .label("actual revenue of the year (at mid-year)")
                .legend(|(x, y)| TriangleMarker::new((x + 10, y), 8, color(1).filled()));
        }
        legend!(chart, SeriesLabelPosition::LowerRight);
    })
}

/// Cumulative revenue share paid against its cap ($B) and, beside it, the year the cap binds.
/// `term_end` is when the term's last period ends: nothing is paid after it, so the chart ends
/// there.
pub fn revenue_share_chart(
    title: &str,
    paid: &Bands,
    term_end: f64,
    cap: Option<Level>,
    cap_hit: Option<&Bars>,
    format: ChartFormat,
) -> Result<Vec<u8>, ChartError> {
    let top = cap.map_or(0.0, |cap| cap.p95).max(paid.max()).max(1e-3);
    let bottom = paid.min().min(0.0);
    let x_range = (paid.first_x() - 0.25).floor()..term_end.min(paid.last_x());
    render!(format, (WIDTH, HEIGHT), |root| {
        let root = root.titled(title, title_style())?;
        let (left, right) = match cap_hit {
            Some(_) => root.split_horizontally(WIDTH * 60 / 100),
            None => root.split_horizontally(WIDTH),
        };
        let mut chart = ChartBuilder::on(&left)
            .caption("paid since the simulation start", panel_title_style())
            .margin(16)
            .x_label_area_size(56)
            .y_label_area_size(90)
            .build_cartesian_2d(x_range.clone(), bottom * 1.1..top * 1.1)?;
        mesh!(chart, year_labels(&x_range), "year", "cumulative payments ($B)", &year_tick, &money_tick);
        draw_bands(&mut chart, paid, color(0), "paid")?;
        if let Some(cap) = cap {
            draw_level(&mut chart, cap, &x_range, LIMIT, "cap")?;
        }
        legend!(chart, SeriesLabelPosition::UpperLeft);
        if let Some(bars) = cap_hit {
            draw_bars(&right, "year the cap binds", bars, "% of paths")?;
        }
    })
}

/// Commitment burn-down: cumulative spend against the commitment ($B) and, beside it, the
/// distribution of the shortfall at the end of the window.
pub fn commitment_chart(
    title: &str,
    spend: &Bands,
    total: Level,
    deadline: Level,
    shortfall: &Histogram,
    met_percent: f64,
    format: ChartFormat,
) -> Result<Vec<u8>, ChartError> {
    let top = total.p95.max(spend.max()).max(1e-3);
    let x_range = (spend.first_x() - 0.25).floor()..spend.last_x();
    render!(format, (WIDTH, HEIGHT), |root| {
        let root = root.titled(title, title_style())?;
        let (left, right) = root.split_horizontally(WIDTH * 60 / 100);
        let mut chart = ChartBuilder::on(&left)
            .caption("spend counted towards the commitment", panel_title_style())
            .margin(16)
            .x_label_area_size(56)
            .y_label_area_size(90)
            .build_cartesian_2d(x_range.clone(), 0.0..top * 1.1)?;
        mesh!(chart, year_labels(&x_range), "year", "cumulative spend ($B)", &year_tick, &money_tick);
        // The window's end: shaded where uncertain, dashed at the median.
        if deadline.uncertain() {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(deadline.p05, 0.0), (deadline.p95, top * 1.1)],
                MUTED.mix(0.10).filled(),
            )))?;
        }
        chart
            .draw_series(DashedLineSeries::new(
                [(deadline.median, 0.0), (deadline.median, top * 1.1)],
                8,
                6,
                MUTED.stroke_width(2),
            ))?
            .label(if deadline.uncertain() {
                format!("window ends (median: {}; shaded 5–95%)", year_end_label(deadline.median))
            } else {
                format!("window ends ({})", year_end_label(deadline.median))
            })
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], MUTED.stroke_width(2)));
        draw_bands(&mut chart, spend, color(0), "spend")?;
        draw_level(&mut chart, total, &x_range, LIMIT, "commitment")?;
        legend!(chart, SeriesLabelPosition::UpperLeft);

        let note = format!("met in full: {met_percent:.1}% of paths");
        if shortfall.is_empty() {
            let area = right.margin(60, 60, 20, 20);
            area.titled("shortfall at the end of the window", panel_title_style())?.draw(&Text::new(
                format!("no path falls short ({note})"),
                (20, 40),
                note_style(),
            ))?;
        } else {
            let x_range = shortfall.range();
            let mut chart = ChartBuilder::on(&right)
                .caption("shortfall at the end of the window", panel_title_style())
                .margin(16)
                .x_label_area_size(56)
                .y_label_area_size(70)
                .build_cartesian_2d(x_range.clone(), 0.0..shortfall.max_share() * 1.25)?;
            mesh!(chart, 8, "shortfall ($B, paths that fall short)", "% of paths", &money_tick, &percent_tick);
            chart
                .draw_series(shortfall.shares.iter().enumerate().map(|(i, &share)| {
                    Rectangle::new(
                        [(shortfall.edges[i], 0.0), (shortfall.edges[i + 1], share)],
                        color(3).mix(0.7).filled(),
                    )
                }))?
                .label(format!("falls short: {:.1}% of paths ({note})", 100.0 - met_percent))
                .legend(|(x, y)| Rectangle::new([(x, y - 7), (x + 20, y + 7)], color(3).mix(0.7).filled()));
            legend!(chart, SeriesLabelPosition::UpperRight);
        }
    })
}

/// Distribution of each party's NPV ($B), one panel per party, deals overlaid.
/// Each party's NPV distribution, one panel per party, one outline per deal.
pub fn npv_chart(parties: &[PartyNpv], format: ChartFormat) -> Result<Vec<u8>, ChartError> {
    npv_panels("Net present value by party", "NPV at the party's discount rate ($B)", parties, format)
}

/// The spread of one value over paths ($B): percentiles and mean, for a box plot.
#[derive(Clone, Debug, PartialEq)]
pub struct Spread {
    pub label: String,
    pub p05: f64,
    pub p25: f64,
    pub p50: f64,
    pub p75: f64,
    pub p95: f64,
    pub mean: f64,
}

impl Spread {
    /// Zero on every path: the same under both deals.
    fn is_zero(&self) -> bool {
        [self.p05, self.p95, self.mean].iter().all(|v| *v == 0.0)
    }
}

/// One party's spreads, a row each (one per deal, or per deal against the baseline).
#[derive(Clone, Debug, PartialEq)]
pub struct PartySpreads {
    pub party: String,
    pub rows: Vec<Spread>,
}

/// Box plots, a panel per party and a row per deal: the box holds the middle 50% of paths, the
/// whiskers 90%, the tick is the median and the dot the mean. With `zero`, zero is marked and
/// a row that is zero on every path says so.
pub fn spread_chart(
    title: &str,
    x_desc: &str,
    parties: &[PartySpreads],
    zero: bool,
    format: ChartFormat,
) -> Result<Vec<u8>, ChartError> {
    let row_height = 46;
    let mut heights: Vec<u32> = parties.iter().map(|p| p.rows.len().max(1) as u32 * row_height + 110).collect();
    // At least as tall as every other chart: a few short panels are stretched to fill it.
    let panels: u32 = heights.iter().sum();
    if panels + 70 < HEIGHT {
        heights.iter_mut().for_each(|h| *h = *h * (HEIGHT - 70) / panels.max(1));
    }
    let height = (heights.iter().sum::<u32>() + 70).max(HEIGHT);
    render!(format, (WIDTH, height), |root| {
        let mut rest = root.titled(title, title_style())?;
        for (party, panel_height) in parties.iter().zip(&heights) {
            let (panel, below) = rest.split_vertically(*panel_height);
            rest = below;
            let rows = party.rows.len().max(1);
            let mut low = party.rows.iter().map(|r| r.p05.min(r.mean)).fold(f64::INFINITY, f64::min);
            let mut high = party.rows.iter().map(|r| r.p95.max(r.mean)).fold(f64::NEG_INFINITY, f64::max);
            if zero {
                (low, high) = (low.min(0.0), high.max(0.0));
            }
            if high - low < 1e-6 {
                // Every row the same single value: a $1B either side, so the ticks read.
                (low, high) = (low - 1.0, high + 1.0);
            }
            let pad = (high - low) * 0.04;
            // A note beside zero goes where there is room.
            let note_side = if 0.0 > (low + high) / 2.0 {
                (plotters::style::text_anchor::HPos::Right, "same on every path  ")
            } else {
                (plotters::style::text_anchor::HPos::Left, "  same on every path")
            };
            let labels: Vec<String> = party.rows.iter().map(|r| r.label.clone()).collect();
            let mut chart = ChartBuilder::on(&panel)
                .caption(&party.party, panel_title_style())
                .margin(12)
                .x_label_area_size(50)
                .y_label_area_size(300)
                .build_cartesian_2d((low - pad)..(high + pad), 0.0..rows as f64)?;
            row_mesh!(chart, x_desc, &labels);
            if zero && low < 0.0 && high > 0.0 {
                chart.draw_series(LineSeries::new([(0.0, 0.0), (0.0, rows as f64)], INK.stroke_width(2)))?;
            }
            for (i, row) in party.rows.iter().enumerate() {
                let middle = (rows - i) as f64 - 0.5;
                let hue = color(i);
                if zero && row.is_zero() {
                    chart.draw_series([Circle::new((0.0, middle), 5, MUTED.filled())])?;
                    chart.draw_series([Text::new(
                        note_side.1,
                        (0.0, middle),
                        note_style().color(&MUTED).pos(plotters::style::text_anchor::Pos::new(
                            note_side.0,
                            plotters::style::text_anchor::VPos::Center,
                        )),
                    )])?;
                    continue;
                }
                chart.draw_series([
                    PathElement::new([(row.p05, middle), (row.p95, middle)], hue.stroke_width(2)),
                    PathElement::new([(row.p05, middle - 0.15), (row.p05, middle + 0.15)], hue.stroke_width(2)),
                    PathElement::new([(row.p95, middle - 0.15), (row.p95, middle + 0.15)], hue.stroke_width(2)),
                ])?;
                chart.draw_series([Rectangle::new(
                    [(row.p25, middle - 0.3), (row.p75, middle + 0.3)],
                    hue.mix(0.45).filled(),
                )])?;
                chart.draw_series([PathElement::new(
                    [(row.p50, middle - 0.3), (row.p50, middle + 0.3)],
                    INK.stroke_width(2),
                )])?;
                chart.draw_series([
                    Circle::new((row.mean, middle), 5, WHITE.filled()),
                    Circle::new((row.mean, middle), 5, INK.stroke_width(2)),
                ])?;
            }
        }
        let legend = "box: middle 50% of paths · whiskers: 5th–95th percentile · tick: median · circle: mean";
        rest.draw(&Text::new(legend, (30, 20), note_style().color(&MUTED)))?;
    })
}

fn npv_panels(title: &str, x_desc: &str, parties: &[PartyNpv], format: ChartFormat) -> Result<Vec<u8>, ChartError> {
    let columns = if parties.len() > 1 { 2 } else { 1 };
    let rows = parties.len().div_ceil(columns).max(1);
    let height = (rows as u32 * 400 + 110).max(HEIGHT);
    render!(format, (WIDTH, height), |root| {
        let mut root = root.titled(title, title_style())?;
        let deals: Vec<&str> =
            parties.first().map_or_else(Vec::new, |p| p.deals.iter().map(|(d, _)| d.as_str()).collect());
        if deals.len() > 1 {
            let (strip, panels) = root.split_vertically(44);
            legend_strip(&strip, &deals)?;
            root = panels;
        }
        for (party, area) in parties.iter().zip(root.split_evenly((rows, columns))) {
            let low = party.deals.iter().map(|(_, h)| h.range().start).fold(f64::INFINITY, f64::min);
            let high = party.deals.iter().map(|(_, h)| h.range().end).fold(f64::NEG_INFINITY, f64::max);
            let top = party.deals.iter().map(|(_, h)| h.max_share()).fold(0.0, f64::max).max(1e-6);
            let mut chart = ChartBuilder::on(&area)
                .caption(&party.party, panel_title_style())
                .margin(14)
                .x_label_area_size(52)
                .y_label_area_size(70)
                .build_cartesian_2d(low..high, 0.0..top * 1.2)?;
            mesh!(chart, 8, x_desc, "% of paths per bin", &money_tick, &percent_tick);
            if low < 0.0 && high > 0.0 {
                chart.draw_series(LineSeries::new([(0.0, 0.0), (0.0, top * 1.2)], MUTED.stroke_width(1)))?;
            }
            let single = party.deals.len() == 1;
            for (d, (_, histogram)) in party.deals.iter().enumerate() {
                let hue = color(d);
                if single {
                    chart.draw_series(histogram.shares.iter().enumerate().map(|(i, &share)| {
                        Rectangle::new(
                            [(histogram.edges[i], 0.0), (histogram.edges[i + 1], share)],
                            hue.mix(0.35).filled(),
                        )
                    }))?;
                }
                chart.draw_series(LineSeries::new(histogram.steps(), hue.stroke_width(2)))?;
            }
        }
    })
}

/// A panel of S-curves: its title and, per deal, a quantile grid in $B.
pub type CurvePanel = (String, Vec<(String, Vec<f64>)>);

/// Cumulative distributions (S-curves), a panel each, a line per deal: each line is a quantile
/// grid in $B (evenly spaced quantiles), drawn against the share of paths at or below it.
pub fn s_curve_chart(
    title: &str,
    x_desc: &str,
    panels: &[CurvePanel],
    format: ChartFormat,
) -> Result<Vec<u8>, ChartError> {
    let columns = if panels.len() > 1 { 2 } else { 1 };
    let rows = panels.len().div_ceil(columns).max(1);
    let height = (rows as u32 * 400 + 110).max(HEIGHT);
    let deals: Vec<&str> =
        panels.first().map_or_else(Vec::new, |(_, lines)| lines.iter().map(|(d, _)| d.as_str()).collect());
    render!(format, (WIDTH, height), |root| {
        let root = root.titled(title, title_style())?;
        let (strip, root) = root.split_vertically(44);
        legend_strip(&strip, &deals)?;
        for ((name, lines), area) in panels.iter().zip(root.split_evenly((rows, columns))) {
            let (low, high) = lines
                .iter()
                .map(|(_, grid)| trimmed_range(grid))
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), r| (l.min(r.start), h.max(r.end)));
            let mut chart = ChartBuilder::on(&area)
                .caption(name, panel_title_style())
                .margin(14)
                .x_label_area_size(52)
                .y_label_area_size(70)
                .build_cartesian_2d(low..high, 0.0..100.0)?;
            mesh!(chart, 8, x_desc, "% of paths at or below", &money_tick, &percent_tick);
            if low < 0.0 && high > 0.0 {
                chart.draw_series(LineSeries::new([(0.0, 0.0), (0.0, 100.0)], MUTED.stroke_width(1)))?;
            }
            for (d, (_, grid)) in lines.iter().enumerate() {
                let share = |i: usize| 100.0 * (i as f64 + 0.5) / grid.len() as f64;
                let points =
                    grid.iter().enumerate().filter(|(_, v)| (low..=high).contains(*v)).map(|(i, &v)| (v, share(i)));
                chart.draw_series(LineSeries::new(points, color(d).stroke_width(2)))?;
            }
        }
    })
}

/// A line of running means: the index of its deal (its colour) and points of (paths run,
/// running mean, two standard errors), in $B.
pub type ConvergenceLine = (usize, Vec<(f64, f64, f64)>);

/// A panel of running means: its title and its lines.
pub type ConvergencePanel = (String, Vec<ConvergenceLine>);

/// Running means against the number of paths (log scale), a panel each, a line per deal with a
/// band of ± 2 standard errors: where the lines flatten inside narrow bands, more paths would
/// not change the figures.
pub fn convergence_chart(
    deals: &[String],
    panels: &[ConvergencePanel],
    format: ChartFormat,
) -> Result<Vec<u8>, ChartError> {
    const TITLE: &str = "Convergence: running mean NPV by party";
    let columns = if panels.len() > 1 { 2 } else { 1 };
    let rows = panels.len().div_ceil(columns).max(1);
    let height = (rows as u32 * 400 + 110).max(HEIGHT);
    render!(format, (WIDTH, height), |root| {
        let root = root.titled(TITLE, title_style())?;
        let (strip, root) = root.split_vertically(44);
        legend_strip(&strip, deals)?;
        for ((name, lines), area) in panels.iter().zip(root.split_evenly((rows, columns))) {
            let points = || lines.iter().flat_map(|(_, points)| points.iter().copied());
            let paths = points().fold(f64::INFINITY, |low, (x, _, _)| low.min(x))
                ..points().fold(f64::NEG_INFINITY, |high, (x, _, _)| high.max(x));
            let (low, high) = points().fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), (_, mean, error)| {
                (low.min(mean - error), high.max(mean + error))
            });
            let pad = ((high - low) * 0.05).max(1e-9);
            let mut chart = ChartBuilder::on(&area)
                .caption(name, panel_title_style())
                .margin(14)
                .x_label_area_size(52)
                .y_label_area_size(84)
                .build_cartesian_2d(
                    paths.clone().log_scale().with_key_points(log_ticks(&paths, 2.0)),
                    (low - pad)..(high + pad),
                )?;
            mesh!(chart, 8, "paths run (log scale)", "running mean ($B)", &paths_tick, &money_tick);
            for (d, points) in lines.iter().map(|(d, points)| (*d, points)) {
                let x: Vec<f64> = points.iter().map(|p| p.0).collect();
                let below: Vec<f64> = points.iter().map(|p| p.1 - p.2).collect();
                let above: Vec<f64> = points.iter().map(|p| p.1 + p.2).collect();
                chart
                    .draw_series(std::iter::once(Polygon::new(band_polygon(&x, &below, &above), color(d).mix(0.15))))?;
                chart.draw_series(LineSeries::new(points.iter().map(|p| (p.0, p.1)), color(d).stroke_width(2)))?;
            }
        }
    })
}

/// A path count for tick labels: 500, 20k, 1.5M.
fn paths_tick(paths: &f64) -> String {
    match *paths {
        p if p >= 1e6 => format!("{}M", format::scenario_number(p / 1e6)),
        p if p >= 1e3 => format!("{}k", format::scenario_number(p / 1e3)),
        p => format!("{p:.0}"),
    }
}

/// One party's cash over time ($B) under the baseline deal, with the other deals' medians.
#[derive(Clone, Debug, PartialEq)]
pub struct CashPanel {
    pub party: String,
    pub baseline: (String, Bands),
    pub others: Vec<(String, Vec<f64>)>,
    /// Under each deal (baseline first): the mean funding gap ($B) and the share of paths on
    /// which cash runs out (percent).
    pub gaps: Vec<(f64, f64)>,
}

/// Cash and the funding gap: a panel per party with initial cash, the baseline deal's fan and the
/// other deals' medians, zero marked (below it the party needs funding).
pub fn cash_chart(panels: &[CashPanel], format: ChartFormat) -> Result<Vec<u8>, ChartError> {
    let height = (panels.len() as u32 * 520 + 60).max(HEIGHT);
    render!(format, (WIDTH, height), |root| {
        let root = root.titled("Cash and the funding gap", title_style())?;
        for (panel, area) in panels.iter().zip(root.split_evenly((panels.len().max(1), 1))) {
            let (name, bands) = &panel.baseline;
            let low = bands.min().min(panel.others.iter().flat_map(|(_, m)| m.iter().copied()).fold(0.0, f64::min));
            let high = bands.max().max(panel.others.iter().flat_map(|(_, m)| m.iter().copied()).fold(0.0, f64::max));
            let pad = (high - low).max(1e-6) * 0.06;
            let x_range = (bands.first_x() - 0.25).floor()..bands.last_x();
            let mut chart = ChartBuilder::on(&area)
                .caption(format!("{}: cash", capitalized(&panel.party)), panel_title_style())
                .margin(16)
                .x_label_area_size(50)
                .y_label_area_size(90)
                .build_cartesian_2d(x_range.clone(), (low - pad)..(high + pad))?;
            mesh!(chart, year_labels(&x_range), "year", "cash ($B)", &year_tick, &money_tick);
            chart.draw_series(LineSeries::new([(x_range.start, 0.0), (x_range.end, 0.0)], LIMIT.stroke_width(2)))?;
            draw_bands(&mut chart, bands, color(0), name)?;
            let gap_text = |(gap, short): (f64, f64)| {
                format!("mean gap {}, runs out on {short:.1}% of paths", format::money(gap * B))
            };
            if let Some(&gap) = panel.gaps.first() {
                chart
                    .draw_series(std::iter::empty::<Circle<(f64, f64), u32>>())?
                    .label(format!("{name}: {}", gap_text(gap)))
                    .legend(|(x, y)| Circle::new((x + 10, y), 0, WHITE.filled()));
            }
            for (d, ((deal, medians), &gap)) in panel.others.iter().zip(panel.gaps.iter().skip(1)).enumerate() {
                let hue = color(d + 1);
                chart
                    .draw_series(LineSeries::new(
                        bands.x.iter().copied().zip(medians.iter().copied()),
                        hue.stroke_width(2),
                    ))?
                    .label(format!("{deal}: median; {}", gap_text(gap)))
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], hue.stroke_width(2)));
            }
            legend!(chart, SeriesLabelPosition::LowerLeft);
        }
    })
}

/// One legend for every panel, in a strip of its own (under the title, above the panels, so it
/// covers nothing): a swatch of the `i`th colour for the `i`th label, centred.
fn legend_strip<DB: DrawingBackend, S: AsRef<str>>(
    strip: &DrawingArea<DB, Shift>,
    labels: &[S],
) -> Result<(), ChartError> {
    let style = (FONT, LEGEND_SIZE).into_font().color(&INK);
    let widths: Vec<u32> = labels
        .iter()
        .map(|label| strip.estimate_text_size(label.as_ref(), &style).map_or(120, |(w, _)| w) + 60)
        .collect();
    let mut x = (WIDTH as i32 - widths.iter().sum::<u32>() as i32).max(0) / 2;
    for (i, (label, width)) in labels.iter().zip(&widths).enumerate() {
        strip.draw(&Rectangle::new([(x, 12), (x + 24, 28)], color(i).mix(0.85).filled()))?;
        strip.draw(&Text::new(label.as_ref().to_string(), (x + 32, 11), style.clone()))?;
        x += *width as i32;
    }
    Ok(())
}

/// Equity stakes over time (%) and the stakes' value at the horizon ($B), per holder.
pub fn equity_chart(deal: &str, holdings: &[Holding], format: ChartFormat) -> Result<Vec<u8>, ChartError> {
    let top = holdings.iter().map(|h| h.stake.max()).fold(0.0, f64::max).max(1e-3);
    let first = holdings.iter().map(|h| h.stake.first_x()).fold(f64::INFINITY, f64::min);
    let last = holdings.iter().map(|h| h.stake.last_x()).fold(f64::NEG_INFINITY, f64::max);
    let x_range = (first - 0.25).floor()..last;
    render!(format, (WIDTH, HEIGHT), |root| {
        let root = root.titled(&format!("{deal}: equity stakes in the valued company"), title_style())?;
        let (left, right) = root.split_horizontally(WIDTH / 2);
        let mut chart = ChartBuilder::on(&left)
            .caption("stake after dilution", panel_title_style())
            .margin(16)
            .x_label_area_size(56)
            .y_label_area_size(80)
            .build_cartesian_2d(x_range.clone(), 0.0..top * 1.25)?;
        mesh!(chart, year_labels(&x_range), "year", "stake (% of the company)", &year_tick, &percent_tick);
        for (h, holding) in holdings.iter().enumerate() {
            draw_bands(&mut chart, &holding.stake, color(h), &holding.party)?;
        }
        legend!(chart, SeriesLabelPosition::UpperLeft);

        let low = holdings.iter().map(|h| h.value.range().start).fold(f64::INFINITY, f64::min).max(1e-3);
        let high = holdings.iter().map(|h| h.value.range().end).fold(f64::NEG_INFINITY, f64::max).max(low * 10.0);
        let peak = holdings.iter().map(|h| h.value.max_share()).fold(0.0, f64::max).max(1e-6);
        let value_range = low..high;
        let mut chart = ChartBuilder::on(&right)
            .caption("value of the stake at the horizon", panel_title_style())
            .margin(16)
            .x_label_area_size(56)
            .y_label_area_size(70)
            .build_cartesian_2d(
                value_range.clone().log_scale().with_key_points(log_ticks(&value_range, 2.0)),
                0.0..peak * 1.2,
            )?;
        mesh!(chart, 12, "equity value ($B, log scale)", "% of paths per bin", &money_tick, &percent_tick);
        for (h, holding) in holdings.iter().enumerate() {
            let hue = color(h);
            chart.draw_series(holding.value.shares.iter().enumerate().map(|(i, &share)| {
                Rectangle::new(
                    [(holding.value.edges[i], 0.0), (holding.value.edges[i + 1], share)],
                    hue.mix(0.25).filled(),
                )
            }))?;
            chart
                .draw_series(LineSeries::new(holding.value.steps(), hue.stroke_width(2)))?
                .label(&holding.party)
                .legend(move |(x, y)| Rectangle::new([(x, y - 7), (x + 20, y + 7)], hue.mix(0.5).filled()));
        }
        legend!(chart, SeriesLabelPosition::UpperRight);
    })
}

/// One bar of a tornado: an input's effect on a metric ($B) at its P10 and P90.
#[derive(Clone, Debug, PartialEq)]
pub struct TornadoBar {
    /// The input in words, e.g. `openai growth, start`.
    pub input: String,
    /// The input's values at its P10 and P90, as written on the bars' ends.
    pub input_low: String,
    pub input_high: String,
    pub at_low: f64,
    pub at_high: f64,
}

/// Largest swings first; bars run from the metric's mean (the vertical line) to its mean with
/// the input at P10 (one colour) and at P90 (another).
pub fn tornado_chart(
    title: &str,
    x_desc: &str,
    center: f64,
    bars: &[TornadoBar],
    format: ChartFormat,
) -> Result<Vec<u8>, ChartError> {
    let low = bars.iter().flat_map(|b| [b.at_low, b.at_high]).fold(center, f64::min);
    let high = bars.iter().flat_map(|b| [b.at_low, b.at_high]).fold(center, f64::max);
    let pad = ((high - low) * 0.05).max(1e-9);
    let rows = bars.len().max(1);
    let labels: Vec<String> = bars.iter().map(|b| b.input.clone()).collect();
    // Room at both ends for the input values written beyond the bars.
    let pad = pad.max((high - low) * 0.14);
    render!(format, (WIDTH, HEIGHT), |root| {
        let mut chart = ChartBuilder::on(&root)
            .caption(title, title_style())
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(380)
            .build_cartesian_2d((low - pad)..(high + pad), 0.0..rows as f64)?;
        // Row i (from the top) holds the i-th largest swing.
        row_mesh!(chart, x_desc, &labels);
        for (i, bar) in bars.iter().enumerate() {
            let top = (rows - i) as f64 - 0.15;
            let bottom = top - 0.7;
            chart.draw_series([
                Rectangle::new([(center, bottom), (bar.at_low, top)], color(0).mix(0.8).filled()),
                Rectangle::new([(center, bottom), (bar.at_high, top)], color(1).mix(0.8).filled()),
            ])?;
            // Each input value beyond the end of its bar, on the side the bar runs to.
            for (value, at) in [(&bar.input_low, bar.at_low), (&bar.input_high, bar.at_high)] {
                let (anchor, text) = if at < center {
                    (plotters::style::text_anchor::HPos::Right, format!("{value} "))
                } else {
                    (plotters::style::text_anchor::HPos::Left, format!(" {value}"))
                };
                let style = (FONT, TICK_SIZE)
                    .into_font()
                    .color(&INK)
                    .pos(plotters::style::text_anchor::Pos::new(anchor, plotters::style::text_anchor::VPos::Center));
                chart.draw_series([Text::new(text, (at, bottom + 0.35), style)])?;
            }
        }
        chart
            .draw_series(LineSeries::new([(center, 0.0), (center, rows as f64)], INK.stroke_width(2)))?
            .label("mean with every input random")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], INK.stroke_width(2)));
        chart
            .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())?
            .label("input at its P10")
            .legend(|(x, y)| Rectangle::new([(x, y - 7), (x + 20, y + 7)], color(0).mix(0.8).filled()));
        chart
            .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())?
            .label("input at its P90")
            .legend(|(x, y)| Rectangle::new([(x, y - 7), (x + 20, y + 7)], color(1).mix(0.8).filled()));
        legend!(chart, SeriesLabelPosition::LowerRight);
    })
}

/// Each party's mean NPV ($B) under each deal by how one event ends: a panel per party, a group of
/// bars per deal, a bar per outcome (and one for the paths where the event does not occur).
pub fn outcome_chart(table: &OutcomeTable, format: ChartFormat) -> Result<Vec<u8>, ChartError> {
    let mut parties: Vec<&str> = Vec::new();
    let mut deals: Vec<&str> = Vec::new();
    for row in &table.rows {
        if !parties.contains(&row.party.as_str()) {
            parties.push(&row.party);
        }
        if !deals.contains(&row.deal.as_str()) {
            deals.push(&row.deal);
        }
    }
    let columns = table.columns.len().max(1);
    let height = (280 * parties.len() as u32).max(HEIGHT);
    let names: Vec<String> = deals.iter().map(|deal| deal.to_string()).collect();
    let legend: Vec<String> = table
        .columns
        .iter()
        .zip(&table.probabilities)
        .map(|(column, probability)| match probability {
            Some(p) => format!("{column} ({} of paths)", format::percent(*p, 0)),
            None => column.clone(),
        })
        .collect();
    render!(format, (WIDTH, height + 44), |root| {
        let (strip, root) = root.split_vertically(44);
        legend_strip(&strip, &legend)?;
        let panels = root.split_evenly((parties.len().max(1), 1));
        for (panel, party) in panels.iter().zip(&parties) {
            let rows: Vec<&OutcomeRow> = table.rows.iter().filter(|row| row.party == *party).collect();
            let values = rows.iter().flat_map(|row| row.means.iter().flatten().map(|value| value / B));
            let (low, high) = values.fold((0.0f64, 0.0f64), |(low, high), value| (low.min(value), high.max(value)));
            let pad = ((high - low) * 0.08).max(1e-6);
            let mut chart = ChartBuilder::on(panel)
                .caption(
                    format!("{party}: mean NPV by how {} ends", table.event),
                    (FONT, AXIS_DESC_SIZE, FontStyle::Bold).into_font().color(&INK),
                )
                .margin(12)
                .x_label_area_size(36)
                .y_label_area_size(70)
                .build_cartesian_2d(0.0..deals.len() as f64, (low - pad)..(high + pad))?;
            let deal_label = |x: &f64| {
                let centre = x - 0.5;
                if (centre - centre.round()).abs() < 1e-6 {
                    names.get(centre.round() as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            };
            chart
                .configure_mesh()
                .x_labels(deals.len() * 2 + 1)
                .disable_x_mesh()
                .x_label_formatter(&deal_label)
                .y_label_formatter(&money_tick)
                .max_light_lines(0)
                .label_style((FONT, TICK_SIZE).into_font().color(&INK))
                .bold_line_style(GRID_BOLD.stroke_width(1))
                .light_line_style(GRID.stroke_width(1))
                .axis_style(MUTED.stroke_width(1))
                .draw()?;
            let width = 0.8 / columns as f64;
            for (d, row) in rows.iter().enumerate() {
                for (o, mean) in row.means.iter().enumerate() {
                    let Some(mean) = mean else { continue };
                    let left = d as f64 + 0.1 + o as f64 * width;
                    chart.draw_series([Rectangle::new(
                        [(left, 0.0), (left + width * 0.9, mean / B)],
                        color(o).mix(0.85).filled(),
                    )])?;
                }
            }
        }
    })
}

/// OpenAI's compute bill by provider: the providers' median spend per period, stacked ($B).
pub fn compute_spend_chart(
    x: &[f64],
    providers: &[(String, Vec<f64>)],
    unit: &str,
    format: ChartFormat,
) -> Result<Vec<u8>, ChartError> {
    let mut stacked: Vec<Vec<f64>> = Vec::with_capacity(providers.len());
    let mut running = vec![0.0; x.len()];
    for (_, medians) in providers {
        for (total, value) in running.iter_mut().zip(medians) {
            *total += value;
        }
        stacked.push(running.clone());
    }
    let top = running.iter().copied().fold(0.0, f64::max).max(1e-3);
    let first = x.first().copied().unwrap_or(0.0);
    let x_range = (first - 0.25).floor()..x.last().copied().unwrap_or(first + 1.0);
    render!(format, (WIDTH, HEIGHT), |root| {
        let mut chart = ChartBuilder::on(&root)
            .caption("Compute spend by provider (medians, stacked)", title_style())
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(100)
            .build_cartesian_2d(x_range.clone(), 0.0..top * 1.1)?;
        mesh!(chart, year_labels(&x_range), "year", format!("median spend ($B per {unit})"), &year_tick, &money_tick);
        let zeros = vec![0.0; x.len()];
        for (p, (name, _)) in providers.iter().enumerate() {
            let below = if p == 0 { &zeros } else { &stacked[p - 1] };
            let hue = color(p);
            chart
                .draw_series(std::iter::once(Polygon::new(
                    band_polygon(x, below, &stacked[p]),
                    hue.mix(0.75).filled(),
                )))?
                .label(name)
                .legend(move |(x, y)| Rectangle::new([(x, y - 7), (x + 20, y + 7)], hue.mix(0.75).filled()));
        }
        legend!(chart, SeriesLabelPosition::UpperLeft);
    })
}

/// Draws a fan: 5th–95th and 25th–75th percentile bands and the median line, with legend.
fn draw_bands<DB, CT>(
    chart: &mut ChartContext<'_, DB, CT>,
    bands: &Bands,
    hue: RGBColor,
    name: &str,
) -> Result<(), ChartError>
where
    DB: DrawingBackend,
    CT: plotters::coord::CoordTranslate<From = (f64, f64)>,
{
    chart.draw_series(std::iter::once(Polygon::new(
        band_polygon(&bands.x, &bands.p05, &bands.p95),
        hue.mix(OUTER_BAND).filled(),
    )))?;
    chart
        .draw_series(std::iter::once(Polygon::new(
            band_polygon(&bands.x, &bands.p25, &bands.p75),
            hue.mix(INNER_BAND).filled(),
        )))?
        .label(format!("{name}: 25–75% / 5–95% of paths"))
        .legend(move |(x, y)| Rectangle::new([(x, y - 7), (x + 20, y + 7)], hue.mix(INNER_BAND).filled()));
    chart
        .draw_series(LineSeries::new(
            bands.x.iter().copied().zip(bands.p50.iter().copied()),
            hue.stroke_width(MEDIAN_WIDTH),
        ))?
        .label(format!("{name}: median"))
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], hue.stroke_width(MEDIAN_WIDTH)));
    Ok(())
}

/// Draws a horizontal limit: solid when fixed; dashed at the median with its 5–95% range dotted
/// when uncertain.
fn draw_level<DB, CT>(
    chart: &mut ChartContext<'_, DB, CT>,
    level: Level,
    x_range: &Range<f64>,
    hue: RGBColor,
    name: &str,
) -> Result<(), ChartError>
where
    DB: DrawingBackend,
    CT: plotters::coord::CoordTranslate<From = (f64, f64)>,
{
    let line = [(x_range.start, level.median), (x_range.end, level.median)];
    if level.uncertain() {
        // The range as thin dotted lines: a shaded band would tint the fan beneath it.
        for edge in [level.p05, level.p95] {
            chart.draw_series(DashedLineSeries::new(
                [(x_range.start, edge), (x_range.end, edge)],
                3,
                5,
                hue.mix(0.7).stroke_width(1),
            ))?;
        }
        chart
            .draw_series(DashedLineSeries::new(line, 12, 6, hue.stroke_width(2)))?
            .label(format!(
                "{name}: median {} (dotted: 5–95%, {} – {})",
                money_tick(&level.median),
                money_tick(&level.p05),
                money_tick(&level.p95)
            ))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], hue.stroke_width(2)));
    } else {
        chart
            .draw_series(LineSeries::new(line, hue.stroke_width(2)))?
            .label(format!("{name}: {}", money_tick(&level.median)))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], hue.stroke_width(2)));
    }
    Ok(())
}

/// Draws labelled bars (the last one muted when it is labelled "never") on `area`.
fn draw_bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    bars: &Bars,
    y_desc: &str,
) -> Result<(), ChartError> {
    let count = bars.labels.len().max(1);
    let top = bars.shares.iter().copied().fold(0.0, f64::max).max(1.0);
    let labels = bars.labels.clone();
    let x_range = -0.5..count as f64 - 0.5;
    let mut chart = ChartBuilder::on(area)
        .caption(title, panel_title_style())
        .margin(16)
        .x_label_area_size(56)
        .y_label_area_size(70)
        .build_cartesian_2d(x_range, 0.0..top * 1.18)?;
    let label_of = move |x: &f64| labels.get(x.round() as usize).cloned().unwrap_or_default();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .max_light_lines(1)
        .x_labels(count)
        .x_desc("calendar year")
        .y_desc(y_desc)
        .x_label_formatter(&label_of)
        .y_label_formatter(&percent_tick)
        .axis_desc_style((FONT, AXIS_DESC_SIZE).into_font().color(&INK))
        .label_style((FONT, TICK_SIZE).into_font().color(&INK))
        .bold_line_style(GRID_BOLD.stroke_width(1))
        .light_line_style(GRID.stroke_width(1))
        .axis_style(MUTED.stroke_width(1))
        .draw()?;
    for (i, (label, &share)) in bars.labels.iter().zip(&bars.shares).enumerate() {
        let hue = if label == "never" { MUTED } else { color(0) };
        let x = i as f64;
        chart.draw_series(std::iter::once(Rectangle::new(
            [(x - 0.38, 0.0), (x + 0.38, share)],
            hue.mix(0.8).filled(),
        )))?;
        if share >= 0.05 {
            let text = if share >= 10.0 { format!("{share:.0}%") } else { format!("{share:.1}%") };
            chart.draw_series(std::iter::once(Text::new(
                text,
                (x, share + top * 0.02),
                (FONT, 14).into_font().color(&INK).pos(plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Center,
                    plotters::style::text_anchor::VPos::Bottom,
                )),
            )))?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// From a run's aggregates to display-ready data
// ---------------------------------------------------------------------------------------------

fn metric_slot(aggregates: &Aggregates, scope: Scope, name: &str) -> Option<usize> {
    aggregates.layout.metrics.iter().position(|m| m.scope == scope && m.name == name)
}

fn series_index(aggregates: &Aggregates, scope: Scope, name: &str) -> Option<usize> {
    aggregates.layout.series.iter().position(|s| s.scope == scope && s.name == name)
}

/// Percentile bands of a series, each value divided by `unit`.
fn series_bands(scenario: &Scenario, aggregates: &Aggregates, scope: Scope, name: &str, unit: f64) -> Option<Bands> {
    let index = series_index(aggregates, scope, name)?;
    let grid = scenario.grid();
    let mut bands = Bands::default();
    for k in 0..aggregates.layout.periods {
        let sketch = &aggregates.sketches[aggregates.layout.series_slot(index, k)];
        let at = |q: f64| sketch.quantile(q).unwrap_or(0.0) / unit;
        bands.x.push(grid.year_end(k));
        bands.p05.push(at(0.05));
        bands.p25.push(at(0.25));
        bands.p50.push(at(0.50));
        bands.p75.push(at(0.75));
        bands.p95.push(at(0.95));
    }
    Some(bands)
}

/// Evenly spaced quantiles of a sketch (divided by `unit`), each standing for the same share
/// of the sketch's values.
fn quantile_grid(sketch: &QuantileSketch, unit: f64) -> Vec<f64> {
    (0..HISTOGRAM_QUANTILES)
        .filter_map(|i| sketch.quantile((i as f64 + 0.5) / HISTOGRAM_QUANTILES as f64))
        .map(|value| value / unit)
        .collect()
}

/// A histogram over `range` of values given as an evenly spaced quantile grid, in percent of
/// `all_paths` (`values_count` of which have the metric). Values outside the range are left out.
pub fn histogram_from_quantiles(values: &[f64], values_count: u64, all_paths: u64, range: Range<f64>) -> Histogram {
    let bins = HISTOGRAM_BINS;
    let width = (range.end - range.start) / bins as f64;
    let edges: Vec<f64> = (0..=bins).map(|i| range.start + width * i as f64).collect();
    let mut shares = vec![0.0; bins];
    if values.is_empty() || width <= 0.0 || all_paths == 0 {
        return Histogram { edges, shares };
    }
    let weight = 100.0 * values_count as f64 / all_paths as f64 / values.len() as f64;
    for &value in values {
        if value < range.start || value > range.end {
            continue;
        }
        let bin = (((value - range.start) / width) as usize).min(bins - 1);
        shares[bin] += weight;
    }
    Histogram { edges, shares }
}

/// As [`histogram_from_quantiles`], with bins of equal width in log scale over a positive
/// `range` (for values spanning decades). Values at or below zero are left out.
pub fn log_histogram_from_quantiles(values: &[f64], values_count: u64, all_paths: u64, range: Range<f64>) -> Histogram {
    let logs: Vec<f64> = values.iter().filter(|&&v| v > 0.0).map(|v| v.log10()).collect();
    let weight = values_count as f64 * logs.len() as f64 / values.len().max(1) as f64;
    let low = range.start.max(f64::MIN_POSITIVE).log10();
    let high = range.end.max(range.start * 10.0).log10();
    let mut histogram = histogram_from_quantiles(&logs, weight.round() as u64, all_paths, low..high);
    for edge in &mut histogram.edges {
        *edge = 10f64.powf(*edge);
    }
    histogram
}

/// The range a histogram of these quantile-grid values shows: the 0.5th to 99.5th percentile
/// (the tails beyond are cut so that a few extreme paths do not flatten the picture).
fn trimmed_range(values: &[f64]) -> Range<f64> {
    if values.is_empty() {
        return 0.0..1.0;
    }
    let cut = values.len() / 200;
    let low = values[cut];
    let high = values[values.len() - 1 - cut];
    if high > low { low..high } else { low - 0.5..low + 0.5 }
}

/// The median and 5–95% range of a scalar of the scenario, divided by `unit`.
fn scalar_level(scenario: &Scenario, scalar: Scalar, unit: f64) -> Level {
    match scalar {
        Scalar::Const(value) => Level::fixed(value / unit),
        Scalar::Input(id) => {
            let distribution = &scenario.inputs[id].distribution;
            Level {
                median: distribution.quantile(0.5) / unit,
                p05: distribution.quantile(0.05) / unit,
                p95: distribution.quantile(0.95) / unit,
            }
        }
    }
}

/// A sketch's percentiles and the mean, in $B, for a box plot.
fn spread(label: String, sketch: &QuantileSketch, mean: f64) -> Spread {
    let at = |q: f64| sketch.quantile(q).unwrap_or(0.0) / B;
    Spread { label, p05: at(0.05), p25: at(0.25), p50: at(0.5), p75: at(0.75), p95: at(0.95), mean: mean / B }
}

fn mean_of(aggregates: &Aggregates, slot: usize) -> f64 {
    let mean = aggregates.moments[slot].mean();
    if mean.is_finite() { mean } else { 0.0 }
}

/// Histograms of several distributions (label, quantile grid, count) on one shared range, so
/// their outlines compare. None when there is nothing to draw.
fn shared_histograms(grids: &[(String, Vec<f64>, u64)], all_paths: u64) -> Option<Vec<(String, Histogram)>> {
    if grids.is_empty() {
        return None;
    }
    let low = grids.iter().map(|(_, v, _)| trimmed_range(v).start).fold(f64::INFINITY, f64::min);
    let high = grids.iter().map(|(_, v, _)| trimmed_range(v).end).fold(f64::NEG_INFINITY, f64::max);
    let histogram = |(label, values, count): &(String, Vec<f64>, u64)| {
        (label.clone(), histogram_from_quantiles(values, *count, all_paths, low..high))
    };
    Some(grids.iter().map(histogram).collect())
}

/// Inputs shown on a tornado: the largest swings.
const TORNADO_BARS: usize = 10;

/// One tornado per target metric of the first deal in `rows`, from sensitivity rows (sorted by
/// deal, metric and swing) and the summary's means.
/// One chart per event with outcomes: each party's NPV under each deal by how it ends.
pub fn outcome_charts(tables: &[OutcomeTable], format: ChartFormat) -> Result<Vec<Chart>, ChartError> {
    let mut charts = Vec::new();
    for table in tables {
        let bytes = outcome_chart(table, format)?;
        charts.push(Chart {
            file_name: format!("outcomes-{}.{}", slug(&table.event), format.extension()),
            title: format!("NPV by how {} ends", table.event),
            caption: format!(
                "Each party's mean NPV under each deal over the paths where {} ends each way (and where it does not \
                 occur by the horizon); the legend gives how often each happens. conditional.csv has the percentiles.",
                table.event
            ),
            format,
            bytes,
        });
    }
    Ok(charts)
}

/// The tornados of the first deal's targets and, for each other deal, of its paired difference
/// from the baseline in the party NPV it changes most on average.
pub fn tornado_charts(
    catalogue: &Catalogue,
    summary: &[crate::report::SummaryRow],
    comparison: &[crate::report::ComparisonRow],
    rows: &[SensitivityRow],
    format: ChartFormat,
) -> Result<Vec<Chart>, ChartError> {
    let Some(deal) = rows.first().map(|row| row.deal.as_str()) else { return Ok(Vec::new()) };
    let mut charts = Vec::new();
    let mut metrics: Vec<&str> =
        rows.iter().filter(|r| r.deal == deal && r.baseline.is_empty()).map(|r| r.metric.as_str()).collect();
    metrics.dedup();
    for metric in metrics {
        let Some(center) = summary.iter().find(|s| s.deal == deal && s.metric == metric).and_then(|s| s.mean) else {
            continue;
        };
        let name = catalogue.metric(metric).name;
        let Some(bytes) =
            tornado_of(catalogue, rows, (deal, "", metric), center, &format!("{deal}: what moves {name}"), format)?
        else {
            continue;
        };
        charts.push(Chart {
            file_name: format!("tornado-{}-{}.{}", slug(deal), slug(metric), format.extension()),
            title: format!("{deal}: what moves {name}"),
            caption: format!(
                "Each bar is one uncertain input fixed at its 10th (blue) and 90th (orange) percentile, the value \
                 written at the bar's end, with everything else random on the same paths; the line is the mean of \
                 {name} with every input random. Longest bars matter most; sensitivity.csv has every input by its \
                 key path, and its rank correlation."
            ),
            format,
            bytes,
        });
    }
    let mut deals: Vec<(&str, &str)> =
        rows.iter().filter(|r| !r.baseline.is_empty()).map(|r| (r.deal.as_str(), r.baseline.as_str())).collect();
    deals.dedup();
    for (deal, baseline) in deals {
        let npv_difference = |metric: &str| {
            let is_npv = metric.starts_with("party.") && metric.ends_with(".npv");
            let row = comparison.iter().find(|c| c.deal == deal && c.baseline == baseline && c.metric == metric);
            row.and_then(|c| c.mean_difference).filter(|_| is_npv)
        };
        let mut metrics: Vec<&str> =
            rows.iter().filter(|r| r.deal == deal && r.baseline == baseline).map(|r| r.metric.as_str()).collect();
        metrics.dedup();
        let largest = metrics
            .into_iter()
            .filter_map(|metric| Some((metric, npv_difference(metric)?)))
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()));
        let Some((metric, center)) = largest else { continue };
        let name = catalogue.metric(metric).name;
        let title = format!("{deal} − {baseline}: what moves the difference in {name}");
        let Some(bytes) = tornado_of(catalogue, rows, (deal, baseline, metric), center, &title, format)? else {
            continue;
        };
        charts.push(Chart {
            file_name: format!("tornado-difference-{}-{}.{}", slug(deal), slug(metric), format.extension()),
            title,
            caption: format!(
                "What drives the gap between the two deals: each bar is one uncertain input fixed at its 10th (blue) \
                 and 90th (orange) percentile, everything else random on the same paths, and its length is how far \
                 that moves the mean of {name} under {deal} minus under {baseline}, path by path. The line is the \
                 mean difference with every input random. Shown for the party whose NPV the deal changes most on \
                 average; sensitivity.csv has every target's."
            ),
            format,
            bytes,
        });
    }
    Ok(charts)
}

/// A scatter per target of the baseline deal: the input that moves it most against it, path by
/// path, from the tornado's paths.
pub fn scatter_charts(
    catalogue: &Catalogue,
    scatters: &[Scatter],
    format: ChartFormat,
) -> Result<Vec<Chart>, ChartError> {
    let mut charts = Vec::new();
    for scatter in scatters.iter().filter(|scatter| scatter.points.len() > 1) {
        let name = catalogue.metric(&scatter.metric).name;
        let input = catalogue.input(&scatter.input);
        let title = format!("{}: {name} against {input}", scatter.deal);
        let bytes = scatter_chart(&title, &input, &format!("{name} ($B)"), &scatter.points, format)?;
        charts.push(Chart {
            file_name: format!("scatter-{}-{}.{}", slug(&scatter.deal), slug(&scatter.metric), format.extension()),
            title,
            caption: format!(
                "Each dot is one path: the input that moves {name} most in the tornado ({}), as drawn, against \
                 {name} on that path, everything else random. The spread at any one input value is what the other \
                 inputs and the world's randomness add; {} of the tornado's paths are shown, but for the 0.5% \
                 most extreme at each end of either axis.",
                scatter.input,
                format::count(scatter.points.len() as f64)
            ),
            format,
            bytes,
        });
    }
    Ok(charts)
}

/// Dots of (input, metric in dollars), the metric drawn in $B.
pub fn scatter_chart(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    points: &[(f64, f64)],
    format: ChartFormat,
) -> Result<Vec<u8>, ChartError> {
    // The 0.5% most extreme values at each end would squeeze the rest into a corner.
    let range = |values: &mut dyn Iterator<Item = f64>| {
        let mut sorted: Vec<f64> = values.collect();
        sorted.sort_by(f64::total_cmp);
        let Range { start, end } = trimmed_range(&sorted);
        let pad = (end - start) * 0.04;
        (start - pad)..(end + pad)
    };
    let x = range(&mut points.iter().map(|p| p.0));
    let y = range(&mut points.iter().map(|p| p.1 / B));
    let shown = points
        .iter()
        .map(|&(input, value)| (input, value / B))
        .filter(|(input, value)| x.contains(input) && y.contains(value));
    let x_format = |value: &f64| format::scenario_number(*value);
    render!(format, (WIDTH, HEIGHT), |root| {
        let mut chart = ChartBuilder::on(&root)
            .caption(title, title_style())
            .margin(18)
            .x_label_area_size(56)
            .y_label_area_size(84)
            .build_cartesian_2d(x.clone(), y.clone())?;
        mesh!(chart, 8, x_desc, y_desc, &x_format, &money_tick);
        chart.draw_series(shown.map(|point| Circle::new(point, 2, color(0).mix(0.35).filled())))?;
    })
}

/// A tornado chart of one target (deal, baseline or "", metric), largest swings first, with its
/// bars around `center`; None where no input moves it.
fn tornado_of(
    catalogue: &Catalogue,
    rows: &[SensitivityRow],
    (deal, baseline, metric): (&str, &str, &str),
    center: f64,
    title: &str,
    format: ChartFormat,
) -> Result<Option<Vec<u8>>, ChartError> {
    let bars: Vec<TornadoBar> = rows
        .iter()
        .filter(|r| r.deal == deal && r.baseline == baseline && r.metric == metric && r.swing > 0.0)
        .take(TORNADO_BARS)
        .map(|r| TornadoBar {
            input: catalogue.input(&r.input),
            input_low: format::scenario_number(r.input_low),
            input_high: format::scenario_number(r.input_high),
            at_low: r.metric_low / B,
            at_high: r.metric_high / B,
        })
        .collect();
    if bars.is_empty() {
        return Ok(None);
    }
    let name = catalogue.metric(metric).name;
    let x_desc = if baseline.is_empty() {
        format!("mean {name} with the input fixed ($B)")
    } else {
        format!("mean difference in {name} with the input fixed ($B)")
    };
    tornado_chart(title, &x_desc, center / B, &bars, format).map(Some)
}

/// Lower-case letters, digits and dashes: safe in a file name.
fn slug(text: &str) -> String {
    let slug: String =
        text.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    slug.trim_matches('-').to_string()
}

/// The period's length, for axis labels.
fn period_unit(steps_per_year: u32) -> &'static str {
    match steps_per_year {
        1 => "year",
        2 => "half-year",
        4 => "quarter",
        12 => "month",
        _ => "period",
    }
}

/// The year-by-year distribution of a cap-hit year sketch, in percent of all paths, with the
/// share of paths where the cap never binds.
/// `origin` is what the sketch's values are counted from (year metrics are stored as years
/// since the simulation start).
fn cap_hit_bars(
    scenario: &Scenario,
    sketch: &QuantileSketch,
    origin: f64,
    hit_probability: f64,
    years: Range<i32>,
    all_paths: u64,
) -> Bars {
    let grid = scenario.grid();
    let steps = f64::from(grid.steps_per_year);
    let labels: Vec<String> = years.clone().map(|year| year.to_string()).collect();
    let mut shares = vec![0.0; labels.len()];
    let quantiles = quantile_grid(sketch, 1.0);
    if !quantiles.is_empty() && all_paths > 0 {
        let weight = 100.0 * sketch.count() as f64 / all_paths as f64 / quantiles.len() as f64;
        for value in quantiles {
            // Snap the (approximate) year to the nearest period end: the end of 2029-Q4 is 2030.0
            // and the cap binds in 2029. A cap already reached at the start counts in the first year.
            let since_start = value + origin - f64::from(grid.start_year);
            let period = ((since_start * steps).round() as i64 - 1).max(0);
            let year =
                (grid.start_year + (period / i64::from(grid.steps_per_year)) as i32).clamp(years.start, years.end - 1);
            shares[(year - years.start) as usize] += weight;
        }
    }
    let mut bars = Bars { labels, shares };
    bars.labels.push("never".to_string());
    bars.shares.push(100.0 * (1.0 - hit_probability).clamp(0.0, 1.0));
    bars
}

/// Money is charted in $B.
const B: f64 = 1e9;

/// The run being charted and the charts drawn so far.
struct Charting<'a> {
    scenario: &'a Scenario,
    aggregates: &'a Aggregates,
    histories: &'a BTreeMap<String, History>,
    format: ChartFormat,
    charts: Vec<Chart>,
}

/// Every chart the scenario supports, in report order. `histories` holds the actuals of the
/// streams that have them, by stream name.
pub fn render_charts(
    scenario: &Scenario,
    aggregates: &Aggregates,
    histories: &BTreeMap<String, History>,
    format: ChartFormat,
) -> Result<Vec<Chart>, ChartError> {
    let mut run = Charting { scenario, aggregates, histories, format, charts: Vec::new() };
    run.revenue_fans()?;
    run.compute_spend()?;
    for d in 0..scenario.deals.len() {
        run.revenue_shares(d)?;
        run.commitments(d)?;
    }
    run.npv()?;
    run.npv_differences()?;
    run.npv_boxes()?;
    run.npv_s_curves()?;
    run.convergence()?;
    run.cash()?;
    for d in 0..scenario.deals.len() {
        run.equity(d)?;
    }
    Ok(run.charts)
}

impl Charting<'_> {
    fn push(&mut self, file_stem: String, title: String, caption: String, bytes: Vec<u8>) {
        let file_name = format!("{file_stem}.{}", self.format.extension());
        self.charts.push(Chart { file_name, title, caption, format: self.format, bytes });
    }

    fn bands(&self, scope: Scope, name: &str, unit: f64) -> Option<Bands> {
        series_bands(self.scenario, self.aggregates, scope, name, unit)
    }

    fn slot(&self, scope: Scope, name: &str) -> Option<usize> {
        metric_slot(self.aggregates, scope, name)
    }

    /// A fan per stream; in a comparison of files whose worlds differ, a fan per stream of each
    /// world, read from the first deal that runs on it.
    fn revenue_fans(&mut self) -> Result<(), ChartError> {
        let scenario = self.scenario;
        let start = f64::from(scenario.grid().start_year);
        let worlds: Vec<(Scope, &Scenario, String)> = if scenario.other_worlds.is_empty() {
            vec![(Scope::World, scenario, String::new())]
        } else {
            (0..scenario.deals.len())
                .filter(|&d| d == 0 || scenario.world_of(d) != scenario.world_of(d - 1))
                .map(|d| {
                    (
                        Scope::Deal(d),
                        scenario.world(scenario.world_of(d)),
                        format!(" (world of {})", scenario.deals[d].name),
                    )
                })
                .collect()
        };
        for (scope, world, of_world) in worlds {
            for stream in &world.streams {
                let Some(bands) = self.bands(scope, &format!("stream.{}.run_rate", stream.name), B) else {
                    continue;
                };
                let history = self.histories.get(&stream.name);
                let bytes = revenue_fan(&stream.label, &bands, history, start, self.format)?;
                let actuals = match history {
                    Some(h) if !h.is_empty() => format!(
                        " Points are reported actuals from data/{}_revenue.csv, from {} on (circles: run-rate on the \
                         date; triangles: booked revenue of the year, at mid-year).",
                        stream.name,
                        start - ACTUAL_YEARS
                    ),
                    _ => " No actuals are on file for this stream.".to_string(),
                };
                let file_stem = match scope {
                    Scope::World => format!("revenue-{}", slug(&stream.name)),
                    Scope::Deal(d) => format!("revenue-{}-{}", slug(&stream.name), slug(&scenario.deals[d].name)),
                };
                self.push(
                    file_stem,
                    format!("{}: revenue run-rate{of_world}", capitalized(&stream.label)),
                    format!(
                        "Annualized revenue run-rate at the end of each period on a log scale: the line is the median \
                         path, the bands hold the middle 50% and 90% of the simulated paths.{actuals}"
                    ),
                    bytes,
                );
            }
        }
        Ok(())
    }

    fn compute_spend(&mut self) -> Result<(), ChartError> {
        let Some(compute) = &self.scenario.compute else {
            return Ok(());
        };
        let mut providers = Vec::new();
        let mut x = Vec::new();
        for provider in &compute.providers {
            // The first deal's: routes may make each deal's compute its own.
            if let Some(bands) = self.bands(Scope::Deal(0), &format!("compute.{}.spend", provider.name), B) {
                x = bands.x.clone();
                providers.push((provider.label.clone(), bands.p50));
            }
        }
        if providers.is_empty() {
            return Ok(());
        }
        let unit = period_unit(self.scenario.grid().steps_per_year);
        let bytes = compute_spend_chart(&x, &providers, unit, self.format)?;
        self.push(
            "compute-spend".to_string(),
            "Compute spend by provider".to_string(),
            format!(
                "Median spend with each provider per {unit}, stacked: the top edge is the sum of the medians \
                 (not the median of the total bill)."
            ),
            bytes,
        );
        Ok(())
    }

    fn revenue_shares(&mut self, d: usize) -> Result<(), ChartError> {
        let (scenario, aggregates) = (self.scenario, self.aggregates);
        let grid = scenario.grid();
        let deal = &scenario.deals[d];
        let scope = Scope::Deal(d);
        for term in deal.terms.iter().filter_map(|term| match term {
            Term::RevenueShare(share) => Some(share),
            _ => None,
        }) {
            let Some(paid) = self.bands(scope, &format!("revenue_share.{}.paid_cumulative", term.name), B) else {
                continue;
            };
            let cap = term.cap.map(|cap| scalar_level(scenario, cap, B));
            let hit = self.slot(scope, &format!("revenue_share.{}.cap_hit", term.name));
            let hit_year = self.slot(scope, &format!("revenue_share.{}.cap_hit_year", term.name));
            let bars = match (hit, hit_year) {
                (Some(hit), Some(hit_year)) => {
                    let first_year = grid.start_year + (term.first / grid.steps_per_year as usize) as i32;
                    let last_year = grid.start_year + (term.last / grid.steps_per_year as usize) as i32;
                    Some(cap_hit_bars(
                        scenario,
                        &aggregates.sketches[hit_year],
                        aggregates.layout.metrics[hit_year].origin,
                        mean_of(aggregates, hit),
                        first_year..last_year + 1,
                        aggregates.paths,
                    ))
                }
                _ => None,
            };
            let title = format!("{}: revenue share {}", deal.name, term.name);
            let bytes = revenue_share_chart(&title, &paid, grid.year_end(term.last), cap, bars.as_ref(), self.format)?;
            let before = scalar_level(scenario, term.paid_before, B);
            let caption = match cap {
                Some(cap) => format!(
                    "Left: cumulative payments from the simulation start (median line, middle 50% and 90% of paths) \
                     against the cap ({}: the cap's median from the scenario{}){}. Right: the share of all paths \
                     in which the cap binds in each year, and in which it never binds by the term's end.",
                    money_tick(&cap.median),
                    if cap.uncertain() { ", its 5–95% range dotted" } else { "" },
                    if before.p95 > 0.0 {
                        format!(
                            "; payments made before the start (median {}) also count towards the cap, so it binds \
                             below the line",
                            money_tick(&before.median)
                        )
                    } else {
                        String::new()
                    }
                ),
                None => "Cumulative payments from the simulation start: median line, middle 50% and 90% of paths; \
                         the term has no cap."
                    .to_string(),
            };
            self.push(format!("revenue-share-{}-{}", slug(&deal.name), slug(&term.name)), title, caption, bytes);
        }
        Ok(())
    }

    fn commitments(&mut self, d: usize) -> Result<(), ChartError> {
        let (scenario, aggregates) = (self.scenario, self.aggregates);
        let grid = scenario.grid();
        let deal = &scenario.deals[d];
        let scope = Scope::Deal(d);
        for term in deal.terms.iter().filter_map(|term| match term {
            Term::Commitment(commitment) => Some(commitment),
            _ => None,
        }) {
            let Some(spend) = self.bands(scope, &format!("commitment.{}.spend_cumulative", term.name), B) else {
                continue;
            };
            let shortfall_name = format!("commitment.{}.shortfall", term.name);
            let (Some(shortfall), Some(met)) =
                (self.slot(scope, &shortfall_name), self.slot(scope, &format!("commitment.{}.met", term.name)))
            else {
                continue;
            };
            // A commitment with the same terms in several deals sees the same world: draw it once.
            let same_as = |other: usize| {
                scenario.deals[other].terms.iter().any(|other| matches!(other, Term::Commitment(c) if c == term))
                    && metric_slot(aggregates, Scope::Deal(other), &shortfall_name)
                        .is_some_and(|slot| aggregates.moments[slot].mean() == aggregates.moments[shortfall].mean())
            };
            if (0..d).any(same_as) {
                continue;
            }
            let sharing: Vec<&str> = (0..scenario.deals.len())
                .filter(|&other| same_as(other))
                .map(|o| scenario.deals[o].name.as_str())
                .collect();
            let total = scalar_level(scenario, term.total, B);
            let first = grid.t_start(term.first) + f64::from(grid.start_year);
            let deadline = match term.window {
                CommitmentWindow::Through(last) => Level::fixed(grid.year_end(last)),
                CommitmentWindow::Years(years) => {
                    let years = scalar_level(scenario, years, 1.0);
                    let end = grid.year_end(grid.periods() - 1);
                    Level {
                        median: (first + years.median).min(end),
                        p05: (first + years.p05).min(end),
                        p95: (first + years.p95).min(end),
                    }
                }
            };
            let sketch = &aggregates.sketches[shortfall];
            let values: Vec<f64> = quantile_grid(sketch, B).into_iter().filter(|&v| v > 0.0).collect();
            let positive_count = sketch.count() as f64 * values.len() as f64 / HISTOGRAM_QUANTILES as f64;
            let histogram = if values.is_empty() {
                Histogram::default()
            } else {
                let range = 0.0..trimmed_range(&values).end;
                histogram_from_quantiles(&values, positive_count.round() as u64, aggregates.paths, range)
            };
            let met_percent = 100.0 * mean_of(aggregates, met);
            let (title, shared) = if sharing.len() > 1 {
                (
                    format!("commitment {} (the same in {} deals)", term.name, sharing.len()),
                    format!(" The same terms on the same simulated world in the deals {}.", sharing.join(", ")),
                )
            } else {
                (format!("{}: commitment {}", deal.name, term.name), String::new())
            };
            let bytes = commitment_chart(&title, &spend, total, deadline, &histogram, met_percent, self.format)?;
            self.push(
                format!("commitment-{}-{}", slug(&deal.name), slug(&term.name)),
                title,
                format!(
                    "Left: cumulative spend with the provider inside the commitment window (median line, middle 50% \
                     and 90% of paths) against the commitment ({}{}); the dashed vertical line is the end of the \
                     window. Right: the shortfall at the end of the window, in % of all paths; {:.1}% of paths meet \
                     the commitment in full and are not shown.{}",
                    money_tick(&total.median),
                    if total.uncertain() { ", the median of its distribution; 5–95% range dotted" } else { "" },
                    met_percent,
                    shared
                ),
                bytes,
            );
        }
        Ok(())
    }

    /// Each party's paired NPV difference against the baseline, a row per deal; every party is
    /// drawn, those no deal treats differently with a row saying so.
    fn npv_differences(&mut self) -> Result<(), ChartError> {
        let (scenario, aggregates) = (self.scenario, self.aggregates);
        let layout = &aggregates.layout;
        let mut baseline = None;
        let mut parties = Vec::new();
        for party in &scenario.parties {
            let name = format!("party.{}.npv", party.name);
            let rows: Vec<Spread> = layout
                .comparisons
                .iter()
                .enumerate()
                .filter(|(_, comparison)| comparison.metric == name)
                .map(|(i, comparison)| {
                    baseline = Some(comparison.baseline);
                    let slot = layout.comparison_slot(i);
                    spread(
                        scenario.deals[comparison.deal].name.clone(),
                        &aggregates.sketches[slot],
                        mean_of(aggregates, slot),
                    )
                })
                .collect();
            if !rows.is_empty() {
                parties
                    .push(PartySpreads {
                        party: format!("{} NPV, deal − baseline", capitalized(&party.label)), rows
                    });
            }
        }
        let Some(baseline) = baseline else { return Ok(()) };
        let baseline = &scenario.deals[baseline].name;
        let title = format!("NPV against the baseline ({baseline}), path by path");
        let bytes = spread_chart(&title, "NPV difference, deal − baseline ($B)", &parties, true, self.format)?;
        self.push(
            "npv-difference".to_string(),
            format!("NPV against the baseline, {baseline}"),
            format!(
                "For each party, the spread over paths of its NPV under each deal minus its NPV under the baseline on \
                 {}: right of the zero line the deal is better for that party. The box holds the middle 50% of paths, \
                 the whiskers 90%, the tick is the median and the circle the mean; comparison.csv has the mean \
                 difference and its standard error.",
                if scenario.other_worlds.is_empty() {
                    "the same sampled world"
                } else {
                    "the same paths, each deal on its own file's world drawn from the same random numbers"
                }
            ),
            bytes,
        );
        Ok(())
    }

    /// Each party's cash with the baseline's fan and the other deals' medians, and how often and
    /// by how much it runs out (the funding gap: the share of paths is exact, from the sketch's
    /// count of positive gaps).
    fn cash(&mut self) -> Result<(), ChartError> {
        let (scenario, aggregates) = (self.scenario, self.aggregates);
        let baseline = aggregates.layout.comparisons.first().map_or(0, |c| c.baseline);
        let order: Vec<usize> =
            std::iter::once(baseline).chain((0..scenario.deals.len()).filter(|&d| d != baseline)).collect();
        let mut panels = Vec::new();
        for party in &scenario.parties {
            let series = format!("party.{}.cash", party.name);
            let gap_metric = format!("party.{}.funding_gap", party.name);
            let Some(bands) = self.bands(Scope::Deal(baseline), &series, B) else { continue };
            let gap = |d: usize| {
                self.slot(Scope::Deal(d), &gap_metric).map_or((0.0, 0.0), |slot| {
                    let sketch = &aggregates.sketches[slot];
                    let short = 100.0 * sketch.count_positive() as f64 / sketch.count().max(1) as f64;
                    (mean_of(aggregates, slot) / B, short)
                })
            };
            let others = order[1..]
                .iter()
                .filter_map(|&d| Some((scenario.deals[d].name.clone(), self.bands(Scope::Deal(d), &series, B)?.p50)))
                .collect();
            panels.push(CashPanel {
                party: party.label.clone(),
                baseline: (scenario.deals[baseline].name.clone(), bands),
                others,
                gaps: order.iter().map(|&d| gap(d)).collect(),
            });
        }
        if panels.is_empty() {
            return Ok(());
        }
        let bytes = cash_chart(&panels, self.format)?;
        self.push(
            "cash".to_string(),
            "Cash and the funding gap".to_string(),
            "Each party's cash (initial cash plus its cumulative cash flows) at the end of each period: the fan is the \
             baseline deal's (median line, middle 50% and 90% of paths), the other lines are the other deals' \
             medians. Below the red zero line the party needs funding; the legend gives the mean funding gap (the \
             deepest shortfall over the horizon, zero where cash never runs out) and the share of paths on which \
             cash runs out, counted exactly."
                .to_string(),
            bytes,
        );
        Ok(())
    }

    /// Each party's NPV as a cumulative distribution (S-curve), a line per deal: read off the
    /// chance of falling below any value.
    fn npv_s_curves(&mut self) -> Result<(), ChartError> {
        let (scenario, aggregates) = (self.scenario, self.aggregates);
        let mut panels = Vec::new();
        for party in &scenario.parties {
            let name = format!("party.{}.npv", party.name);
            let lines: Vec<(String, Vec<f64>)> = (0..scenario.deals.len())
                .filter_map(|d| {
                    let sketch = &aggregates.sketches[self.slot(Scope::Deal(d), &name)?];
                    Some((scenario.deals[d].name.clone(), quantile_grid(sketch, B)))
                })
                .filter(|(_, grid)| !grid.is_empty())
                .collect();
            if !lines.is_empty() {
                panels.push((format!("{} NPV", capitalized(&party.label)), lines));
            }
        }
        if panels.is_empty() {
            return Ok(());
        }
        let bytes = s_curve_chart("NPV by party: cumulative distribution", "NPV ($B)", &panels, self.format)?;
        self.push(
            "npv-s-curves".to_string(),
            "NPV by party: cumulative distribution".to_string(),
            "The share of paths on which each party's NPV is at or below each value, a line per deal (an S-curve): \
             read the chance of an NPV below a target where the line crosses it; a line further right is better \
             for that party throughout. Drawn from the run's quantile sketches, whose values are within 0.4% of \
             the exact order statistics; the 0.5% most extreme paths at each end are cut."
                .to_string(),
            bytes,
        );
        Ok(())
    }

    /// Each party's running mean NPV under each deal against the paths run.
    fn convergence(&mut self) -> Result<(), ChartError> {
        let (scenario, aggregates) = (self.scenario, self.aggregates);
        if aggregates.convergence.len() < 2 {
            return Ok(());
        }
        let mut panels = Vec::new();
        for party in &scenario.parties {
            let name = format!("party.{}.npv", party.name);
            let mut lines: Vec<ConvergenceLine> = Vec::new();
            let drawn = (0..scenario.deals.len()).filter_map(|d| {
                let slot = self.slot(Scope::Deal(d), &name)?;
                let points = aggregates
                    .convergence
                    .iter()
                    .map(|point| {
                        let moments = &point.metrics[slot];
                        (point.paths as f64, moments.mean() / B, 2.0 * moments.std_error() / B)
                    })
                    .filter(|(_, mean, error)| mean.is_finite() && error.is_finite())
                    .collect::<Vec<_>>();
                Some((d, points))
            });
            // A deal that leaves the party's NPV as another deal does would only darken its band.
            for (d, points) in drawn {
                if lines.iter().all(|(_, earlier)| *earlier != points) {
                    lines.push((d, points));
                }
            }
            if !lines.is_empty() {
                panels.push((format!("{} NPV", capitalized(&party.label)), lines));
            }
        }
        if panels.is_empty() {
            return Ok(());
        }
        let deals: Vec<String> = scenario.deals.iter().map(|deal| deal.name.clone()).collect();
        let bytes = convergence_chart(&deals, &panels, self.format)?;
        let first = aggregates.convergence[0].paths;
        self.push(
            "convergence".to_string(),
            "Convergence: running mean NPV by party".to_string(),
            format!(
                "Each party's mean NPV under each deal over the first paths run, from {} paths to all {} (log \
                 scale), with a band of ± 2 standard errors; a deal that leaves a party's NPV exactly as an \
                 earlier deal does is drawn once, in the earlier deal's colour. Where a line has flattened inside \
                 a narrow band, more paths would not move the figure; a band still wide at the right calls for \
                 more paths (--paths, or --target-se).",
                format::count(first as f64),
                format::count(aggregates.paths as f64)
            ),
            bytes,
        );
        Ok(())
    }

    /// Each party's NPV under each deal, as box plots side by side.
    fn npv_boxes(&mut self) -> Result<(), ChartError> {
        let (scenario, aggregates) = (self.scenario, self.aggregates);
        let mut parties = Vec::new();
        for party in &scenario.parties {
            let name = format!("party.{}.npv", party.name);
            let rows: Vec<Spread> = (0..scenario.deals.len())
                .filter_map(|d| {
                    let slot = self.slot(Scope::Deal(d), &name)?;
                    let sketch = &aggregates.sketches[slot];
                    let positive = sketch.count_positive() as f64 / sketch.count().max(1) as f64;
                    let label = format!("{} (NPV > 0: {})", scenario.deals[d].name, format::percent(positive, 1));
                    Some(spread(label, sketch, mean_of(aggregates, slot)))
                })
                .collect();
            if !rows.is_empty() {
                parties.push(PartySpreads { party: format!("{} NPV", capitalized(&party.label)), rows });
            }
        }
        let bytes = spread_chart(
            "NPV by party and deal",
            "NPV at the party's discount rate ($B)",
            &parties,
            false,
            self.format,
        )?;
        self.push(
            "npv-boxes".to_string(),
            "NPV by party and deal".to_string(),
            "Each party's NPV under each deal: the box holds the middle 50% of paths, the whiskers 90%, the tick is the \
             median and the circle the mean. Beside each deal, the share of paths on which the NPV is above zero \
             (counted exactly)."
                .to_string(),
            bytes,
        );
        Ok(())
    }

    fn npv(&mut self) -> Result<(), ChartError> {
        let (scenario, aggregates) = (self.scenario, self.aggregates);
        let mut parties = Vec::new();
        for party in &scenario.parties {
            let name = format!("party.{}.npv", party.name);
            let grids: Vec<(String, Vec<f64>, u64)> = scenario
                .deals
                .iter()
                .enumerate()
                .filter_map(|(d, deal)| {
                    let sketch = &aggregates.sketches[self.slot(Scope::Deal(d), &name)?];
                    Some((deal.name.clone(), quantile_grid(sketch, B), sketch.count()))
                })
                .collect();
            if let Some(deals) = shared_histograms(&grids, aggregates.paths) {
                parties.push(PartyNpv { party: capitalized(&party.label), deals });
            }
        }
        if parties.is_empty() {
            return Ok(());
        }
        let bytes = npv_chart(&parties, self.format)?;
        self.push(
            "npv".to_string(),
            "Net present value by party".to_string(),
            format!(
                "Distribution of each party's NPV over the horizon, discounted at its own rate, one panel per party{}: \
                 the height is the share of paths per bin; the 0.5% most extreme paths at each end are cut.",
                if scenario.deals.len() > 1 { ", one outline per deal" } else { "" }
            ),
            bytes,
        );
        Ok(())
    }

    fn equity(&mut self, d: usize) -> Result<(), ChartError> {
        let (scenario, aggregates) = (self.scenario, self.aggregates);
        let deal = &scenario.deals[d];
        let scope = Scope::Deal(d);
        let mut holdings = Vec::new();
        for party in &scenario.parties {
            let (Some(stake), Some(value)) = (
                self.bands(scope, &format!("party.{}.stake", party.name), 0.01),
                self.slot(scope, &format!("party.{}.equity_value", party.name)),
            ) else {
                continue;
            };
            let sketch = &aggregates.sketches[value];
            let values = quantile_grid(sketch, B);
            let positive: Vec<f64> = values.iter().copied().filter(|&v| v > 0.0).collect();
            let range = trimmed_range(&positive);
            let histogram = log_histogram_from_quantiles(&values, sketch.count(), aggregates.paths, range);
            holdings.push(Holding { party: capitalized(&party.label), stake, value: histogram });
        }
        if holdings.is_empty() {
            return Ok(());
        }
        let bytes = equity_chart(&deal.name, &holdings, self.format)?;
        self.push(
            format!("equity-{}", slug(&deal.name)),
            format!("{}: equity stakes", deal.name),
            "Left: each holder's stake in the valued company after dilution (median line, middle 50% and 90% of \
             paths). Right: the value of that stake at the horizon on a log scale, in % of paths per bin (0.5% \
             tails cut)."
                .to_string(),
            bytes,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_ticks_read_as_billions() {
        assert_eq!(money_tick(&0.0), "$0");
        assert_eq!(money_tick(&250.0), "$250B");
        assert_eq!(money_tick(&2.5), "$2.5B");
        assert_eq!(money_tick(&0.05), "$0.05B");
        assert_eq!(money_tick(&1200.0), "$1.2T");
        assert_eq!(money_tick(&-40.0), "−$40B");
        assert_eq!(money_tick(&20.0), "$20B");
    }

    #[test]
    fn period_ends_read_as_calendar_dates() {
        assert_eq!(year_end_label(2034.0), "end of 2033");
        assert_eq!(year_end_label(2033.75), "end of 2033-Q3");
    }

    #[test]
    fn log_ticks_follow_one_two_five() {
        assert_eq!(log_ticks(&(0.8..30.0), 2.0), vec![1.0, 2.0, 5.0, 10.0, 20.0]);
        assert_eq!(log_ticks(&(0.8..300.0), 2.0), vec![1.0, 3.0, 10.0, 30.0, 100.0, 300.0]);
    }

    #[test]
    fn log_ticks_end_on_extreme_ranges() {
        // Each of these looped forever when the ticks were found by multiplying a decade by 10.
        for range in [1e-3..f64::INFINITY, 0.0..1.0, 5e-324..1.0, 1e-3..f64::MAX, f64::MIN_POSITIVE..1e300] {
            let ticks = log_ticks(&range, 6.0);
            assert!(ticks.len() <= 2 * 633, "{range:?}: {} ticks", ticks.len());
            assert!(ticks.iter().all(|tick| range.contains(tick) || *tick == range.end), "{range:?}");
        }
        assert!(log_ticks(&(f64::NAN..1.0), 2.0).is_empty());
        assert!(log_ticks(&(2.0..1.0), 2.0).is_empty());
    }

    #[test]
    fn a_quantile_histogram_puts_each_quantile_in_its_bin() {
        let values: Vec<f64> = (0..100).map(|i| i as f64 / 100.0).collect();
        let histogram = histogram_from_quantiles(&values, 50, 100, 0.0..1.0);
        assert_eq!(histogram.edges.len(), HISTOGRAM_BINS + 1);
        let total: f64 = histogram.shares.iter().sum();
        assert!((total - 50.0).abs() < 1e-9, "half the paths have the metric: {total}");
    }
}
