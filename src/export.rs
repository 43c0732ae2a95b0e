//! Renders a plan as a PDF the patient can keep and bring along.
//!
//! Only the PDF base-14 fonts (Helvetica, Helvetica-Bold) are used, with
//! WinAnsiEncoding: every reader has them, nothing is embedded and the file
//! stays small. The cost is that only Windows-1252 characters can be shown
//! (this covers Norwegian); anything else is printed as `?`. Layout is a plain
//! greedy line breaker driven by the standard Helvetica metrics, which is all
//! a one-column text document needs.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

/// A document: a title and sections of paragraphs, already in the words to print.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document {
    pub title: String,
    pub sections: Vec<Section>,
}

/// One headed section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    pub heading: String,
    pub paragraphs: Vec<String>,
}

/// Renders the document as PDF bytes (A4, a built-in font such as Helvetica so nothing is embedded).
///
/// Never fails: text that cannot be shown is replaced rather than rejected,
/// so a plan always yields something the patient can print.
pub fn render_pdf(doc: &Document) -> Vec<u8> {
    let mut layout = Layout::new();

    if !doc.title.is_empty() {
        layout.block(TITLE, &doc.title);
        layout.gap(TITLE_GAP_AFTER);
    }
    for section in &doc.sections {
        layout.gap(HEADING_GAP_BEFORE);
        if !section.heading.is_empty() {
            // Keep the heading together with at least one line of its text.
            layout.ensure_room(HEADING.leading + BODY.leading);
            layout.block(HEADING, &section.heading);
            layout.gap(HEADING_GAP_AFTER);
        }
        for (i, paragraph) in section.paragraphs.iter().enumerate() {
            if i > 0 {
                layout.gap(PARAGRAPH_GAP);
            }
            layout.block(BODY, paragraph);
        }
    }

    write_pdf(&doc.title, layout.finish())
}

// A4 in points, with 2 cm margins all round.
const PAGE_WIDTH: f32 = 595.28;
const PAGE_HEIGHT: f32 = 841.89;
const MARGIN: f32 = 56.69;
const TEXT_WIDTH: f32 = PAGE_WIDTH - 2.0 * MARGIN;

const TITLE: Style = Style {
    font: Font::Bold,
    size: 20.0,
    leading: 26.0,
};
const HEADING: Style = Style {
    font: Font::Bold,
    size: 13.0,
    leading: 18.0,
};
const BODY: Style = Style {
    font: Font::Regular,
    size: 11.0,
    leading: 15.0,
};
const TITLE_GAP_AFTER: f32 = 8.0;
const HEADING_GAP_BEFORE: f32 = 12.0;
const HEADING_GAP_AFTER: f32 = 2.0;
const PARAGRAPH_GAP: f32 = 6.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Font {
    Regular,
    Bold,
}

impl Font {
    /// Name of the font in each page's resource dictionary.
    fn resource(self) -> Name<'static> {
        match self {
            Font::Regular => Name(b"F1"),
            Font::Bold => Name(b"F2"),
        }
    }

    /// Width of WinAnsi-encoded text in points at `size`.
    fn width(self, text: &[u8], size: f32) -> f32 {
        let table = match self {
            Font::Regular => &HELVETICA_WIDTHS,
            Font::Bold => &HELVETICA_BOLD_WIDTHS,
        };
        let units: u32 = text
            .iter()
            .map(|&b| {
                usize::from(b)
                    .checked_sub(0x20)
                    .and_then(|i| table.get(i))
                    .map_or(0, |&w| u32::from(w))
            })
            .sum();
        units as f32 * size / 1000.0
    }
}

#[derive(Debug, Clone, Copy)]
struct Style {
    font: Font,
    size: f32,
    leading: f32,
}

/// Places lines top to bottom, starting a new page when the current one is full.
struct Layout {
    pages: Vec<Content>,
    current: Content,
    /// Top of the next line, in PDF coordinates (origin bottom left).
    y: f32,
    /// Whether anything was placed on the current page; gaps at the top of a
    /// page are dropped so pages do not start with blank space.
    used: bool,
}

impl Layout {
    fn new() -> Self {
        Self {
            pages: Vec::new(),
            current: Content::new(),
            y: PAGE_HEIGHT - MARGIN,
            used: false,
        }
    }

    fn new_page(&mut self) {
        let full = std::mem::replace(&mut self.current, Content::new());
        self.pages.push(full);
        self.y = PAGE_HEIGHT - MARGIN;
        self.used = false;
    }

    fn gap(&mut self, amount: f32) {
        if self.used {
            self.y -= amount;
        }
    }

    /// Moves to a new page unless `height` more points fit above the bottom margin.
    fn ensure_room(&mut self, height: f32) {
        if self.used && self.y - height < MARGIN {
            self.new_page();
        }
    }

    /// Lays out text in `style`; each source line starts a new line and is wrapped.
    fn block(&mut self, style: Style, text: &str) {
        for source_line in split_lines(text) {
            let encoded = encode_win_ansi(source_line);
            for line in wrap(&encoded, style.font, style.size, TEXT_WIDTH) {
                self.line(style, &line);
            }
        }
    }

    fn line(&mut self, style: Style, text: &[u8]) {
        self.ensure_room(style.leading);
        let baseline = self.y - style.size;
        if !text.is_empty() {
            // One text object per line: readers and text extractors then see
            // each line as its own line.
            self.current
                .begin_text()
                .set_font(style.font.resource(), style.size)
                .next_line(MARGIN, baseline)
                .show(Str(text))
                .end_text();
        }
        self.y -= style.leading;
        self.used = true;
    }

    /// Returns the content of every page; there is always at least one.
    fn finish(mut self) -> Vec<Content> {
        self.pages.push(self.current);
        self.pages
    }
}

/// Splits on `\n`, `\r\n` and lone `\r`, keeping empty lines as blank lines.
fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n')
        .flat_map(|line| line.strip_suffix('\r').unwrap_or(line).split('\r'))
}

/// Encodes text for a WinAnsiEncoding font: one byte per character.
///
/// Tabs become spaces and soft hyphens are dropped (both are invisible);
/// control characters and anything outside Windows-1252 become `?`.
fn encode_win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .filter_map(|c| match c {
            '\u{AD}' => None,
            '\t' => Some(b' '),
            // In these ranges Windows-1252 and Unicode agree, so the code
            // point is the byte.
            ' '..='~' | '\u{A0}'..='\u{FF}' => Some(u8::try_from(c).unwrap_or(b'?')),
            _ => Some(win_ansi_extra(c).unwrap_or(b'?')),
        })
        .collect()
}

/// The characters Windows-1252 places at 0x80..=0x9F.
fn win_ansi_extra(c: char) -> Option<u8> {
    Some(match c {
        '€' => 0x80,
        '‚' => 0x82,
        'ƒ' => 0x83,
        '„' => 0x84,
        '…' => 0x85,
        '†' => 0x86,
        '‡' => 0x87,
        'ˆ' => 0x88,
        '‰' => 0x89,
        'Š' => 0x8A,
        '‹' => 0x8B,
        'Œ' => 0x8C,
        'Ž' => 0x8E,
        '\u{2018}' => 0x91,
        '\u{2019}' => 0x92,
        '\u{201C}' => 0x93,
        '\u{201D}' => 0x94,
        '•' => 0x95,
        '–' => 0x96,
        '—' => 0x97,
        '˜' => 0x98,
        '™' => 0x99,
        'š' => 0x9A,
        '›' => 0x9B,
        'œ' => 0x9C,
        'ž' => 0x9E,
        'Ÿ' => 0x9F,
        _ => return None,
    })
}

/// Greedy word wrap of one encoded line to `max_width` points.
///
/// Words are separated by spaces (runs collapse; a no-break space 0xA0 does
/// not separate). A word wider than a whole line is cut wherever it must be.
/// Always returns at least one (possibly empty) line.
fn wrap(text: &[u8], font: Font, size: f32, max_width: f32) -> Vec<Vec<u8>> {
    let space = font.width(b" ", size);
    let mut lines = Vec::new();
    let mut line: Vec<u8> = Vec::new();
    let mut line_width = 0.0;

    for word in text.split(|&b| b == b' ').filter(|w| !w.is_empty()) {
        let word_width = font.width(word, size);
        if line.is_empty() && word_width <= max_width {
            line.extend_from_slice(word);
            line_width = word_width;
        } else if !line.is_empty() && line_width + space + word_width <= max_width {
            line.push(b' ');
            line.extend_from_slice(word);
            line_width += space + word_width;
        } else if word_width <= max_width {
            lines.push(std::mem::take(&mut line));
            line.extend_from_slice(word);
            line_width = word_width;
        } else {
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            line_width = 0.0;
            for &b in word {
                let w = font.width(&[b], size);
                // A piece always gets at least one character, so this ends.
                if !line.is_empty() && line_width + w > max_width {
                    lines.push(std::mem::take(&mut line));
                    line_width = 0.0;
                }
                line.push(b);
                line_width += w;
            }
        }
    }
    lines.push(line);
    lines
}

/// Hands out object numbers 1, 2, 3, ...
///
/// The count cannot overflow `i32`: objects are 5 plus two per page, and a
/// page holds dozens of lines, each from at least one input byte, so it would
/// take tens of gigabytes of input.
struct Ids(i32);

impl Ids {
    fn next(&mut self) -> Ref {
        self.0 += 1;
        Ref::new(self.0)
    }
}

fn write_pdf(title: &str, pages: Vec<Content>) -> Vec<u8> {
    let mut ids = Ids(0);
    let catalog_id = ids.next();
    let tree_id = ids.next();
    let info_id = ids.next();
    let regular_id = ids.next();
    let bold_id = ids.next();
    let page_ids: Vec<(Ref, Ref)> = pages.iter().map(|_| (ids.next(), ids.next())).collect();

    let mut pdf = Pdf::new();
    pdf.catalog(catalog_id).pages(tree_id);
    pdf.pages(tree_id)
        .kids(page_ids.iter().map(|&(page, _)| page))
        .count(i32::try_from(page_ids.len()).unwrap_or(i32::MAX));
    let mut info = pdf.document_info(info_id);
    if !title.is_empty() {
        info.title(TextStr(title));
    }
    info.finish();
    for (id, base) in [(regular_id, "Helvetica"), (bold_id, "Helvetica-Bold")] {
        pdf.type1_font(id)
            .base_font(Name(base.as_bytes()))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }

    for (content, &(page_id, content_id)) in pages.into_iter().zip(&page_ids) {
        let mut page = pdf.page(page_id);
        page.parent(tree_id)
            .media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT))
            .contents(content_id);
        let mut resources = page.resources();
        resources
            .fonts()
            .pair(Font::Regular.resource(), regular_id)
            .pair(Font::Bold.resource(), bold_id);
        resources.finish();
        page.finish();
        pdf.stream(content_id, &content.finish());
    }

    // Every id above came from `ids` exactly once, so `finish` (which panics
    // only on a reused id) cannot panic.
    pdf.finish()
}

/// Helvetica advance widths (1/1000 em) for WinAnsi codes 0x20..=0xFF,
/// from the Adobe core-font metrics (Helvetica.afm).
#[rustfmt::skip]
const HELVETICA_WIDTHS: [u16; 224] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // 0x20
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0x30
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // 0x40
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // 0x50
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // 0x60
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, 350, // 0x70
    556, 350, 222, 556, 333, 1000, 556, 556, 333, 1000, 667, 333, 1000, 350, 611, 350, // 0x80
    350, 222, 222, 333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, 350, 500, 667, // 0x90
    278, 333, 556, 556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333, // 0xA0
    400, 584, 333, 333, 333, 556, 537, 278, 333, 333, 365, 556, 834, 834, 834, 611, // 0xB0
    667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278, // 0xC0
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611, // 0xD0
    556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278, // 0xE0
    556, 556, 556, 556, 556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500, // 0xF0
];

/// Helvetica-Bold advance widths (1/1000 em) for WinAnsi codes 0x20..=0xFF,
/// from the Adobe core-font metrics (Helvetica-Bold.afm).
#[rustfmt::skip]
const HELVETICA_BOLD_WIDTHS: [u16; 224] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, // 0x20
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, // 0x30
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778, // 0x40
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556, // 0x50
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, // 0x60
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, 350, // 0x70
    556, 350, 278, 556, 500, 1000, 556, 556, 333, 1000, 667, 333, 1000, 350, 611, 350, // 0x80
    350, 278, 278, 500, 500, 350, 556, 1000, 333, 1000, 556, 333, 944, 350, 500, 667, // 0x90
    278, 333, 556, 556, 556, 556, 280, 556, 333, 737, 370, 556, 584, 333, 737, 333, // 0xA0
    400, 584, 333, 333, 333, 611, 556, 278, 333, 333, 365, 556, 834, 834, 834, 611, // 0xB0
    722, 722, 722, 722, 722, 722, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278, // 0xC0
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611, // 0xD0
    556, 556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278, 278, // 0xE0
    611, 611, 611, 611, 611, 611, 611, 584, 611, 611, 611, 611, 611, 556, 611, 556, // 0xF0
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Loads the PDF and returns (page count, text of all pages, text of the last page),
    /// with whitespace normalised so wrapped sentences read as one.
    fn extract(bytes: &[u8]) -> (usize, String, String) {
        let pdf = lopdf::Document::load_mem(bytes).expect("PDF should load");
        let pages: Vec<u32> = pdf.get_pages().keys().copied().collect();
        let norm = |s: String| s.split_whitespace().collect::<Vec<_>>().join(" ");
        let all = norm(pdf.extract_text(&pages).expect("text should extract"));
        let last = *pages.last().expect("at least one page");
        let last = norm(pdf.extract_text(&[last]).expect("text should extract"));
        (pages.len(), all, last)
    }

    fn sample() -> Document {
        let long =
            "Dette er en lang tekst om behandlingen som fortsetter side etter side. ".repeat(150);
        Document {
            title: "Behandlingsplan for Åse Ærlig".into(),
            sections: vec![
                Section {
                    heading: "Om planen".into(),
                    paragraphs: vec![
                        "Vi går på tur til Bærum og spiser blåbær på øya.".into(),
                        "Morgen: 1 tablett\nKveld: 2 tabletter (etter mat) \\ ved behov".into(),
                    ],
                },
                Section {
                    heading: "Lang del".into(),
                    paragraphs: vec![long],
                },
                Section {
                    heading: "Avslutning".into(),
                    paragraphs: vec!["Siste ord er sluttstrek.".into()],
                },
            ],
        }
    }

    #[test]
    fn renders_several_pages_with_norwegian_text() {
        let bytes = render_pdf(&sample());
        assert!(bytes.starts_with(b"%PDF-"));
        let (pages, all, last) = extract(&bytes);
        assert!(pages > 1, "expected several pages, got {pages}");
        assert!(all.contains("Behandlingsplan for Åse Ærlig"), "{all}");
        assert!(all.contains("Om planen"));
        assert!(all.contains("Avslutning"));
        assert!(all.contains("Vi går på tur til Bærum og spiser blåbær på øya."));
        assert!(all.contains("Morgen: 1 tablett Kveld: 2 tabletter (etter mat) \\ ved behov"));
        assert!(last.contains("sluttstrek"), "{last}");
        assert!(!last.contains("Om planen"));
    }

    #[test]
    fn headings_are_bold_and_body_regular() {
        let bytes = render_pdf(&sample());
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("/F2 13 Tf"));
        assert!(text.contains("/F1 11 Tf"));
        assert!(text.contains("/BaseFont /Helvetica-Bold"));
        assert!(text.contains("/Encoding /WinAnsiEncoding"));
    }

    #[test]
    fn empty_document_is_one_blank_page() {
        let bytes = render_pdf(&Document::default());
        let (pages, all, _) = extract(&bytes);
        assert_eq!(pages, 1);
        assert_eq!(all, "");
    }

    #[test]
    fn odd_input_does_not_panic() {
        let huge_word = "x".repeat(100_000);
        let huge_text = "ord æøå\n\t(mer) \u{7}\r\n".repeat(10_000);
        let doc = Document {
            title: huge_word.clone(),
            sections: vec![
                Section::default(),
                Section {
                    heading: String::new(),
                    paragraphs: vec![String::new(), "\n\n\r".into()],
                },
                Section {
                    heading: "\u{0}\u{1b}[31m emoji 😀 中文 \u{FFFF}".into(),
                    paragraphs: vec![huge_word, huge_text],
                },
            ],
        };
        let (pages, all, _) = extract(&render_pdf(&doc));
        assert!(pages > 10);
        assert!(all.contains("emoji ? ??"));
        assert!(all.contains("ord æøå (mer) ?"));
    }

    #[test]
    fn encodes_win_ansi() {
        assert_eq!(encode_win_ansi("æøåÆØÅé"), b"\xE6\xF8\xE5\xC6\xD8\xC5\xE9");
        assert_eq!(encode_win_ansi("€ – “x” ’"), b"\x80 \x96 \x93x\x94 \x92");
        assert_eq!(encode_win_ansi("a\tb\u{AD}c\u{7}d😀"), b"a bc?d?");
    }

    #[test]
    fn wrapped_lines_fit_and_keep_every_character() {
        let text = encode_win_ansi(&format!(
            "{} kort {} WWW",
            "ord ".repeat(200),
            "W".repeat(500)
        ));
        for (font, size) in [(Font::Regular, 11.0), (Font::Bold, 20.0)] {
            let lines = wrap(&text, font, size, TEXT_WIDTH);
            assert!(lines.len() > 5);
            for line in &lines {
                assert!(font.width(line, size) <= TEXT_WIDTH, "{line:?}");
            }
            let rejoined: usize = lines
                .iter()
                .map(|l| l.iter().filter(|&&b| b != b' ').count())
                .sum();
            let original = text.iter().filter(|&&b| b != b' ').count();
            assert_eq!(rejoined, original);
        }
        assert_eq!(
            wrap(b"", Font::Regular, 11.0, TEXT_WIDTH),
            vec![Vec::<u8>::new()]
        );
    }

    #[test]
    fn splits_all_line_endings() {
        let lines: Vec<&str> = split_lines("a\nb\r\nc\rd\n").collect();
        assert_eq!(lines, ["a", "b", "c", "d", ""]);
    }
}
