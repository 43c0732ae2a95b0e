//! Renders a plan as a PDF the patient can keep and bring along.
//!
//! The text is set in DejaVu Sans and DejaVu Sans Bold, embedded in the file (subsets of about
//! 50 KB each, some 30 KB deflated, holding the Latin letters Norwegian and the Sami languages need: `assets/fonts/`),
//! so every letter NFC text can hold prints as itself — å, č, đ, ŋ, š, ŧ, ž, ǯ — on any reader,
//! and a ToUnicode map keeps the text searchable and copyable. A character the fonts lack
//! prints as the replacement glyph (U+FFFD). Layout is a plain greedy line breaker driven by the
//! fonts' advance widths, which is all a one-column text document needs.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use pdf_writer::Filter;
use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
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

/// Renders the document as PDF bytes (A4, DejaVu Sans embedded).
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

    let (pages, used) = layout.finish();
    write_pdf(&doc.title, pages, &used)
}

// A4 in points, with 2 cm margins all round.
const PAGE_WIDTH: f32 = 595.28;
const PAGE_HEIGHT: f32 = 841.89;
const MARGIN: f32 = 56.69;
const TEXT_WIDTH: f32 = PAGE_WIDTH - 2.0 * MARGIN;

const TITLE: Style = Style { font: Font::Bold, size: 20.0, leading: 26.0 };
const HEADING: Style = Style { font: Font::Bold, size: 13.0, leading: 18.0 };
const BODY: Style = Style { font: Font::Regular, size: 11.0, leading: 15.0 };
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

    fn index(self) -> usize {
        match self {
            Font::Regular => 0,
            Font::Bold => 1,
        }
    }

    fn face(self) -> &'static Face {
        static FACES: OnceLock<[Face; 2]> = OnceLock::new();
        &FACES.get_or_init(|| {
            [
                Face::load("DejaVuSans", include_bytes!("../assets/fonts/DejaVuSans-Latin.ttf")),
                Face::load(
                    "DejaVuSans-Bold",
                    include_bytes!("../assets/fonts/DejaVuSans-Bold-Latin.ttf"),
                ),
            ]
        })[self.index()]
    }

    /// Width of glyphs in points at `size`.
    fn width(self, glyphs: &[Glyph], size: f32) -> f32 {
        let units: u32 = glyphs.iter().map(|g| u32::from(g.advance)).sum();
        units as f32 * size / self.face().units_per_em
    }

    /// The glyphs that show `text`: tabs as spaces, soft hyphens and control characters
    /// dropped, anything the font lacks as the replacement glyph.
    fn shape(self, text: &str) -> Vec<Glyph> {
        let face = self.face();
        text.chars()
            .filter_map(|c| match c {
                '\u{AD}' => None,
                '\t' => Some(' '),
                c if c.is_control() => None,
                c => Some(c),
            })
            .map(|c| face.glyph(c))
            .collect()
    }
}

/// One glyph of a line: its id in the font, the character it shows, its advance in font units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Glyph {
    id: u16,
    shows: char,
    advance: u16,
}

impl Glyph {
    fn is_space(&self) -> bool {
        self.shows == ' '
    }
}

/// An embedded TrueType font: its file, and the metrics the layout and the PDF need.
struct Face {
    name: &'static str,
    data: &'static [u8],
    units_per_em: f32,
    glyphs: std::collections::HashMap<char, Glyph>,
    replacement: Glyph,
    deflated: OnceLock<Vec<u8>>,
    ascent: f32,
    descent: f32,
    cap_height: f32,
    bbox: Rect,
}

impl Face {
    /// Reads a font shipped in `assets/fonts`; the files are fixed, so a bad one is a build
    /// defect the unit tests catch.
    fn load(name: &'static str, data: &'static [u8]) -> Face {
        let face = ttf_parser::Face::parse(data, 0).expect("an embedded font parses");
        let units_per_em = f32::from(face.units_per_em());
        let glyph = |c: char| {
            face.glyph_index(c).map(|id| Glyph {
                id: id.0,
                shows: c,
                advance: face.glyph_hor_advance(id).unwrap_or(0),
            })
        };
        let mut glyphs = std::collections::HashMap::new();
        if let Some(table) = face.tables().cmap {
            for sub in table.subtables.into_iter().filter(|s| s.is_unicode()) {
                sub.codepoints(|cp| {
                    if let Some(g) = char::from_u32(cp).and_then(glyph) {
                        glyphs.entry(g.shows).or_insert(g);
                    }
                });
            }
        }
        let replacement = glyph('\u{FFFD}').expect("an embedded font has a replacement glyph");
        let scale = |v: i16| f32::from(v) * 1000.0 / units_per_em;
        let b = face.global_bounding_box();
        Face {
            name,
            data,
            units_per_em,
            glyphs,
            replacement,
            deflated: OnceLock::new(),
            ascent: scale(face.ascender()),
            descent: scale(face.descender()),
            cap_height: scale(face.capital_height().unwrap_or(face.ascender())),
            bbox: Rect::new(scale(b.x_min), scale(b.y_min), scale(b.x_max), scale(b.y_max)),
        }
    }

    /// The font file deflated, once, for every PDF that embeds it.
    fn deflated(&self) -> &[u8] {
        self.deflated.get_or_init(|| deflate(self.data))
    }

    /// The glyph of `c`, or the replacement glyph, which shows (and copies as) U+FFFD.
    fn glyph(&self, c: char) -> Glyph {
        self.glyphs.get(&c).copied().unwrap_or(self.replacement)
    }

    /// An advance in PDF text-space units (1/1000 em).
    fn pdf_width(&self, advance: u16) -> f32 {
        f32::from(advance) * 1000.0 / self.units_per_em
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
    /// The glyphs each font showed, for the PDF's widths and ToUnicode maps.
    shown: [BTreeMap<u16, Glyph>; 2],
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
            shown: [BTreeMap::new(), BTreeMap::new()],
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
            let shaped = style.font.shape(source_line);
            for line in wrap(&shaped, style.font, style.size, TEXT_WIDTH) {
                self.line(style, &line);
            }
        }
    }

    fn line(&mut self, style: Style, glyphs: &[Glyph]) {
        self.ensure_room(style.leading);
        let baseline = self.y - style.size;
        if !glyphs.is_empty() {
            // Identity-H: each glyph id, big-endian, is its character code.
            let text: Vec<u8> = glyphs.iter().flat_map(|g| g.id.to_be_bytes()).collect();
            for g in glyphs {
                self.shown[style.font.index()].entry(g.id).or_insert(*g);
            }
            // One text object per line: readers and text extractors then see
            // each line as its own line.
            self.current
                .begin_text()
                .set_font(style.font.resource(), style.size)
                .next_line(MARGIN, baseline)
                .show(Str(&text))
                .end_text();
        }
        self.y -= style.leading;
        self.used = true;
    }

    /// Returns the content of every page (there is always at least one) and the glyphs each
    /// font showed.
    fn finish(mut self) -> (Vec<Content>, [BTreeMap<u16, Glyph>; 2]) {
        self.pages.push(self.current);
        (self.pages, self.shown)
    }
}

/// Splits on `\n`, `\r\n` and lone `\r`, keeping empty lines as blank lines.
fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n').flat_map(|line| line.strip_suffix('\r').unwrap_or(line).split('\r'))
}

/// Greedy word wrap of one shaped line to `max_width` points.
///
/// Words are separated by spaces (runs collapse; a no-break space does not separate). A word
/// wider than a whole line is cut wherever it must be. Always returns at least one (possibly
/// empty) line.
fn wrap(glyphs: &[Glyph], font: Font, size: f32, max_width: f32) -> Vec<Vec<Glyph>> {
    let space_glyph = font.face().glyph(' ');
    let space = font.width(&[space_glyph], size);
    let mut lines = Vec::new();
    let mut line: Vec<Glyph> = Vec::new();
    let mut line_width = 0.0;

    for word in glyphs.split(Glyph::is_space).filter(|w| !w.is_empty()) {
        let word_width = font.width(word, size);
        if line.is_empty() && word_width <= max_width {
            line.extend_from_slice(word);
            line_width = word_width;
        } else if !line.is_empty() && line_width + space + word_width <= max_width {
            line.push(space_glyph);
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
            for &g in word {
                let w = font.width(&[g], size);
                // A piece always gets at least one glyph, so this ends.
                if !line.is_empty() && line_width + w > max_width {
                    lines.push(std::mem::take(&mut line));
                    line_width = 0.0;
                }
                line.push(g);
                line_width += w;
            }
        }
    }
    lines.push(line);
    lines
}

/// A stream's bytes in zlib's format, as `FlateDecode` reads them.
fn deflate(data: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(data, 6)
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

fn write_pdf(title: &str, pages: Vec<Content>, used: &[BTreeMap<u16, Glyph>; 2]) -> Vec<u8> {
    let mut ids = Ids(0);
    let catalog_id = ids.next();
    let tree_id = ids.next();
    let info_id = ids.next();
    // Per font: the Type0 font, its CID font, descriptor, font file and ToUnicode map.
    let font_ids: Vec<[Ref; 5]> =
        (0..2).map(|_| [ids.next(), ids.next(), ids.next(), ids.next(), ids.next()]).collect();
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
    for (font, [type0, cid, descriptor, file, to_unicode]) in
        [Font::Regular, Font::Bold].into_iter().zip(font_ids.iter().copied())
    {
        let face = font.face();
        let glyphs = &used[font.index()];
        let name = Name(face.name.as_bytes());
        pdf.type0_font(type0)
            .base_font(name)
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(cid)
            .to_unicode(to_unicode);
        let mut cid_font = pdf.cid_font(cid);
        cid_font
            .subtype(CidFontType::Type2)
            .base_font(name)
            .system_info(SystemInfo {
                registry: Str(b"Adobe"),
                ordering: Str(b"Identity"),
                supplement: 0,
            })
            .font_descriptor(descriptor)
            .cid_to_gid_map_predefined(Name(b"Identity"));
        let mut widths = cid_font.widths();
        for (id, g) in glyphs {
            widths.consecutive(*id, [face.pdf_width(g.advance)]);
        }
        widths.finish();
        cid_font.finish();
        pdf.font_descriptor(descriptor)
            .name(name)
            .flags(FontFlags::NON_SYMBOLIC)
            .bbox(face.bbox)
            .italic_angle(0.0)
            .ascent(face.ascent)
            .descent(face.descent)
            .cap_height(face.cap_height)
            .stem_v(if font == Font::Bold { 120.0 } else { 80.0 })
            .font_file2(file);
        pdf.stream(file, face.deflated())
            .filter(Filter::FlateDecode)
            .pair(Name(b"Length1"), i32::try_from(face.data.len()).unwrap_or(i32::MAX));
        let mut cmap = UnicodeCmap::new(
            Name(b"Custom"),
            SystemInfo { registry: Str(b"Adobe"), ordering: Str(b"UCS"), supplement: 0 },
        );
        for (id, g) in glyphs {
            cmap.pair(*id, g.shows);
        }
        pdf.cmap(to_unicode, &cmap.finish());
    }

    for (content, &(page_id, content_id)) in pages.into_iter().zip(&page_ids) {
        let mut page = pdf.page(page_id);
        page.parent(tree_id)
            .media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT))
            .contents(content_id);
        let mut resources = page.resources();
        resources
            .fonts()
            .pair(Font::Regular.resource(), font_ids[0][0])
            .pair(Font::Bold.resource(), font_ids[1][0]);
        resources.finish();
        page.finish();
        pdf.stream(content_id, &deflate(&content.finish())).filter(Filter::FlateDecode);
    }

    // Every id above came from `ids` exactly once, so `finish` (which panics
    // only on a reused id) cannot panic.
    pdf.finish()
}

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
                Section { heading: "Lang del".into(), paragraphs: vec![long] },
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
        let pdf = lopdf::Document::load_mem(&bytes).unwrap();
        let first = *pdf.get_pages().values().next().unwrap();
        let content = String::from_utf8_lossy(&pdf.get_page_content(first)).into_owned();
        assert!(content.contains("/F2 13 Tf"), "{content}");
        assert!(content.contains("/F1 11 Tf"));
        assert!(text.contains("/FlateDecode"));
        assert!(text.contains("/BaseFont /DejaVuSans-Bold"));
        assert!(text.contains("/Encoding /Identity-H"));
        assert!(text.contains("/FontFile2"));
    }

    #[test]
    fn prints_every_norwegian_and_sami_letter() {
        let letters = "Æ æ Ø ø Å å Á á Č č Đ đ Ŋ ŋ Š š Ŧ ŧ Ž ž Ï ï Â â Ä ä Õ õ Ʒ ʒ Ǯ ǯ Ǧ ǧ Ǥ ǥ Ǩ ǩ";
        for font in [Font::Regular, Font::Bold] {
            for g in font.shape(letters) {
                assert_ne!(
                    g.id,
                    font.face().replacement.id,
                    "{} lacks {}",
                    font.face().name,
                    g.shows
                );
            }
        }
        let doc = Document {
            title: letters.into(),
            sections: vec![Section {
                heading: "Sámegiella".into(),
                paragraphs: vec![letters.into()],
            }],
        };
        let (_, all, _) = extract(&render_pdf(&doc));
        assert!(all.contains(letters), "{all}");
        assert!(all.contains("Sámegiella"));
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
        assert!(all.contains("emoji \u{FFFD} \u{FFFD}\u{FFFD}"), "{}", &all[..200]);
        assert!(all.contains("ord æøå (mer)"));
    }

    #[test]
    fn shapes_what_it_can_show() {
        let shown: String =
            Font::Regular.shape("a\tb\u{AD}c\u{7}d😀€–").iter().map(|g| g.shows).collect();
        assert_eq!(shown, "a bcd\u{FFFD}€–");
    }

    #[test]
    fn wrapped_lines_fit_and_keep_every_character() {
        let source = format!("{} kort {} WWW", "ord ".repeat(200), "W".repeat(500));
        for (font, size) in [(Font::Regular, 11.0), (Font::Bold, 20.0)] {
            let text = font.shape(&source);
            let lines = wrap(&text, font, size, TEXT_WIDTH);
            assert!(lines.len() > 5);
            for line in &lines {
                assert!(font.width(line, size) <= TEXT_WIDTH, "{line:?}");
            }
            let rejoined: usize =
                lines.iter().map(|l| l.iter().filter(|g| !g.is_space()).count()).sum();
            let original = text.iter().filter(|g| !g.is_space()).count();
            assert_eq!(rejoined, original);
        }
        assert_eq!(wrap(&[], Font::Regular, 11.0, TEXT_WIDTH), vec![Vec::<Glyph>::new()]);
    }

    #[test]
    fn splits_all_line_endings() {
        let lines: Vec<&str> = split_lines("a\nb\r\nc\rd\n").collect();
        assert_eq!(lines, ["a", "b", "c", "d", ""]);
    }
}
