// Issue 25: active content that passed the sniffer (PDF script behind spellings, filters, line
// ends and padding; XFA; /Launch; DOCX macros; image markup in other spellings).
import { env } from "cloudflare:test";
import fc from "fast-check";
import { deflateSync } from "fflate";
import { beforeAll, describe, expect, it } from "vitest";
import { ascii, concat, makeDocx, makeJpeg, makePng, makeZip } from "../../scripts/lib/media-fixtures";
import { PDF_LIMITS, SniffError, sniff, sniffDeep } from "../../src/media/sniff";
import { type Actor, actor, api, createJob, expectStatus, type Fixtures, seedFixtures } from "../support/helpers";
import {
  bytes,
  ENCODERS,
  encodeChain,
  FILTER_NAMES,
  type FilterKind,
  flate,
  JS_ACTION,
  LAUNCH_ACTION,
  obj,
  objStmContent,
  objStmPdf,
  pdf,
  spellName,
  stream,
} from "../support/pdf-builder";

const DOCS = ["pdf", "docx", "jpeg", "png"] as const;
const JS = /^PDF contains JavaScript/;
const LAUNCH = /^PDF contains a \/Launch action/;
const XFA = /^PDF contains an XFA form|^PDF contains script markup/;
const CANNOT = /cannot be checked for scripts: not accepted$|cannot be read, so it cannot be checked$/;

let fx: Fixtures;
let staff: Actor;
let job: { job_id: number; job_uuid: string };

beforeAll(async () => {
  fx = await seedFixtures();
  staff = await actor("staff");
  job = await createJob(staff, fx, { contractor_id: fx.contractorId });
});

function uploadDocument(file: Uint8Array, filename: string) {
  const form = new FormData();
  form.append("action", "upload");
  form.append("job_id", String(job.job_id));
  form.append("file_type_id", "1");
  form.append("file", new Blob([file], { type: "application/octet-stream" }), filename);
  return api("POST", "/api/jobs/documents", { token: staff.token, csrf: staff.csrf, body: form });
}
const stored = async () => (await env.DB.prepare("SELECT count(*) AS n FROM documents").first<{ n: number }>())?.n ?? 0;

/** The reason and message the sniffer refuses `file` with (undefined when it passes). */
function refusal(file: Uint8Array): SniffError | undefined {
  try {
    sniff(file, DOCS);
    return undefined;
  } catch (err) {
    if (err instanceof SniffError) return err;
    throw err;
  }
}

const fl = (d: Uint8Array) => flate(d);
const objStm = "/Type/ObjStm";

/** Every spelling the review found stored, and their neighbours. */
const PDF_VARIANTS: [string, Uint8Array, RegExp][] = [
  ["/Type/Obj#53tm (name with #xx)", objStmPdf(JS_ACTION, "/Type/Obj#53tm/Filter/FlateDecode", fl), JS],
  ["/Filter/Fl#61teDecode", objStmPdf(JS_ACTION, `${objStm}/Filter/Fl#61teDecode`, fl), JS],
  ["/Filter/ASCIIHexDecode", objStmPdf(JS_ACTION, `${objStm}/Filter/ASCIIHexDecode`, ENCODERS.AHx), JS],
  ["/Filter/ASCII85Decode", objStmPdf(JS_ACTION, `${objStm}/Filter/ASCII85Decode`, ENCODERS.A85), JS],
  ["/Filter/LZWDecode", objStmPdf(JS_ACTION, `${objStm}/Filter/LZWDecode`, ENCODERS.LZW), JS],
  ["/Filter/RunLengthDecode", objStmPdf(JS_ACTION, `${objStm}/Filter/RunLengthDecode`, ENCODERS.RL), JS],
  ["/Filter/Fl", objStmPdf(JS_ACTION, `${objStm}/Filter/Fl`, fl), JS],
  ["/Filter/AHx", objStmPdf(JS_ACTION, `${objStm}/Filter/AHx`, ENCODERS.AHx), JS],
  ["/Filter/A85", objStmPdf(JS_ACTION, `${objStm}/Filter/A85`, ENCODERS.A85), JS],
  ["/Filter/LZW", objStmPdf(JS_ACTION, `${objStm}/Filter/LZW`, ENCODERS.LZW), JS],
  ["/Filter/RL", objStmPdf(JS_ACTION, `${objStm}/Filter/RL`, ENCODERS.RL), JS],
  ["/Filter[/AHx/Fl] (a chain)", objStmPdf(JS_ACTION, `${objStm}/Filter[/AHx/Fl]`, (d) => encodeChain(d, ["AHx", "Flate"])), JS],
  [
    "/Filter[/A85/RL/LZW/Fl] (a long chain)",
    objStmPdf(JS_ACTION, `${objStm}/Filter[/A85/RL/LZW/Fl]`, (d) => encodeChain(d, ["A85", "RL", "LZW", "Flate"])),
    JS,
  ],
  [
    "Flate with a PNG predictor",
    objStmPdf(JS_ACTION, `${objStm}/Filter/FlateDecode/DecodeParms<</Predictor 12/Columns 7>>`, (d) => encodeChain(d, ["Flate"], [7])),
    JS,
  ],
  [
    "LZW with a predictor in a DecodeParms array",
    objStmPdf(JS_ACTION, `${objStm}/Filter[/AHx/LZW]/DecodeParms[null<</Predictor 15/Columns 3>>]`, (d) =>
      encodeChain(d, ["AHx", "LZW"], [undefined, 3]),
    ),
    JS,
  ],
  ["a dictionary padded past 2 000 characters", objStmPdf(JS_ACTION, `${objStm}/Pad(${"x".repeat(5000)})/Filter/FlateDecode`, fl), JS],
  ["stream\\r", objStmPdf(JS_ACTION, `${objStm}/Filter/FlateDecode`, fl, { eol: "\r" }), JS],
  ["stream\\r\\n", objStmPdf(JS_ACTION, `${objStm}/Filter/FlateDecode`, fl, { eol: "\r\n" }), JS],
  ["an object stream without /Type", objStmPdf(JS_ACTION, "/Filter/FlateDecode", fl), JS],
  ["/Launch in an object stream", objStmPdf(LAUNCH_ACTION, `${objStm}/Filter/FlateDecode`, fl), LAUNCH],
  ["/L#61unch spelt in an object stream", objStmPdf("<</S/L#61unch/F(cmd.exe)>>", `${objStm}/Filter/A85`, ENCODERS.A85), LAUNCH],
  [
    "/OpenAction /Launch at top level",
    pdf([obj(1, "<</Type/Catalog/Pages 2 0 R/OpenAction<</S/Launch/Win<</F(cmd.exe)>>>>>>"), obj(2, "<</Type/Pages/Kids[]/Count 0>>")]),
    LAUNCH,
  ],
  [
    "an XFA form (its key at top level, <script> in an ordinary Flate stream)",
    pdf([
      obj(1, "<</Type/Catalog/Pages 2 0 R/AcroForm<</Fields[]/XFA 5 0 R>>>>"),
      obj(2, "<</Type/Pages/Kids[]/Count 0>>"),
      obj(
        5,
        stream("/Filter/FlateDecode", fl(ascii('<xdp:xdp xmlns:xdp="http://ns.adobe.com/xdp/"><script>app.alert(1)</script></xdp:xdp>'))),
      ),
    ]),
    XFA,
  ],
  [
    "an XFA stream whose /XFA key hides in an object stream",
    pdf([
      obj(1, "<</Type/Catalog/Pages 2 0 R/AcroForm 3 0 R>>"),
      obj(2, "<</Type/Pages/Kids[]/Count 0>>"),
      obj(4, stream("/Type/ObjStm/N 1/First 4/Filter/FlateDecode", fl(ascii("3 0 <</Fields[]/X#46A 5 0 R>>")))),
      obj(5, stream("/Filter/Fl", fl(ascii("<template><subform><script>app.alert(1)</script></subform></template>")))),
    ]),
    XFA,
  ],
  [
    "a JavaScript stream (/JS 6 0 R) in an object stream",
    pdf([
      obj(1, "<</Type/Catalog/Pages 2 0 R/OpenAction 3 0 R>>"),
      obj(2, "<</Type/Pages/Kids[]/Count 0>>"),
      obj(4, stream("/Type/ObjStm/N 1/First 4/Filter/FlateDecode", fl(ascii("3 0 <</S/Java#53cript/J#53 6 0 R>>")))),
      obj(6, stream("/Filter/FlateDecode", fl(ascii("app.alert(1)")))),
    ]),
    JS,
  ],
  ["junk after the compressed data", objStmPdf(JS_ACTION, `${objStm}/Filter/FlateDecode`, (d) => concat(fl(d), ascii("JUNK"))), JS],
  [
    "an object stream hidden inside image data (reachable by an xref offset)",
    pdf([
      obj(1, "<</Type/Catalog/Pages 2 0 R/OpenAction 3 0 R>>"),
      obj(2, "<</Type/Pages/Kids[]/Count 0>>"),
      obj(
        7,
        stream(
          "/Type/XObject/Subtype/Image/Width 1/Height 1/ColorSpace/DeviceGray/BitsPerComponent 8/Filter/DCTDecode",
          concat(
            new Uint8Array([0xff, 0xd8, 0xff, 0xe0]),
            obj(4, stream("/N 1/First 4/Filter/FlateDecode", fl(ascii(`3 0 ${JS_ACTION}`)))),
          ),
        ),
      ),
    ]),
    JS,
  ],
  [
    "a PDF embedded as a file, whose object stream runs JavaScript",
    pdf([
      obj(1, "<</Type/Catalog/Pages 2 0 R/Names<</EmbeddedFiles<</Names[(a.pdf) 8 0 R]>>>>>>"),
      obj(2, "<</Type/Pages/Kids[]/Count 0>>"),
      obj(8, "<</Type/Filespec/F(a.pdf)/EF<</F 9 0 R>>>>"),
      obj(9, stream("/Type/EmbeddedFile/Filter/FlateDecode", fl(objStmPdf(JS_ACTION, "/Type/ObjStm/Filter/FlateDecode", fl)))),
    ]),
    JS,
  ],
  ["an unknown filter on an object stream", objStmPdf(JS_ACTION, `${objStm}/Filter/FooDecode`, (d) => d), CANNOT],
  ["an image filter on an object stream", objStmPdf(JS_ACTION, `${objStm}/Filter/DCTDecode`, fl), CANNOT],
  ["a filter given indirectly", objStmPdf(JS_ACTION, `${objStm}/Filter 9 0 R`, fl), CANNOT],
  ["a repeated /Filter key", objStmPdf(JS_ACTION, `${objStm}/Filter/DCTDecode/Filter/FlateDecode`, fl), CANNOT],
  ["corrupt Flate data", objStmPdf(JS_ACTION, `${objStm}/Filter/FlateDecode`, (d) => fl(d).subarray(0, 12)), CANNOT],
  [
    "a stream dictionary the lexer cannot read (a stray parenthesis)",
    pdf([
      obj(1, "<</Type/Catalog/Pages 2 0 R/OpenAction 3 0 R>>"),
      obj(4, stream(`${objStm}/N 1/First 4) /Filter/FlateDecode`, fl(ascii(`3 0 ${JS_ACTION}`)))),
    ]),
    CANNOT,
  ],
  [
    "an encrypted PDF",
    pdf(
      [obj(1, "<</Type/Catalog/Pages 2 0 R>>"), obj(5, "<</Filter/Standard/V 2/R 3/O<00>/U<00>/P -4>>")],
      "<</Root 1 0 R/Encrypt 5 0 R>>",
    ),
    /^PDF is encrypted/,
  ],
];

describe("PDF active content is refused however it is spelt or packed (issue 25, finding 1)", () => {
  it.each(PDF_VARIANTS)("%s", (_name, file, reason) => {
    const err = refusal(file);
    expect(err?.message).toMatch(reason);
  });

  it("a sample of them answers 415 through the documents API, storing nothing", async () => {
    const before = await stored();
    for (const index of [0, 1, 2, 15, 16, 19, 21, 22]) {
      const [name, file, reason] = PDF_VARIANTS[index] as [string, Uint8Array, RegExp];
      const res = await uploadDocument(file, "report.pdf");
      expect(res.status, name).toBe(415);
      expect(res.body.message.replace(/^file: /, ""), name).toMatch(reason);
    }
    expect(await stored()).toBe(before);
  });

  it("a decompression bomb is refused past the per-stream and the total caps", () => {
    const big = flate(new Uint8Array(PDF_LIMITS.maxDecodedLive + 1));
    const one = pdf([obj(1, "<</Type/Catalog/Pages 2 0 R>>"), obj(4, stream("/Filter/FlateDecode", big))]);
    expect(refusal(one)?.message).toBe("PDF streams expand beyond the limit");
    const part = flate(new Uint8Array(PDF_LIMITS.maxDecodedLive - 1024));
    const count = Math.ceil(PDF_LIMITS.maxDecodedTotal / (PDF_LIMITS.maxDecodedLive - 1024)) + 1;
    const many = pdf([
      obj(1, "<</Type/Catalog/Pages 2 0 R>>"),
      ...Array.from({ length: count }, (_, i) => obj(10 + i, stream("/Filter/Fl", part))),
    ]);
    expect(refusal(many)?.message).toBe("PDF streams expand beyond the limit");
  });
});

/** An ordinary PDF: a page with a Flate text stream, a JPEG image, a Flate image, a font, an object stream, an xref stream with predictors, a link. */
function ordinaryPdf(): Uint8Array {
  // Image data is never parsed: bytes that spell /JS or >>stream inside it must not matter.
  const jpegish = concat(makeJpeg(16, 16), ascii("/JS (x) /Launch >>stream\n"));
  const pixels = flate(concat(new Uint8Array(300).fill(200), ascii("/JavaScript /JS(")));
  const font = flate(Uint8Array.from({ length: 4000 }, (_, i) => (i * 7919) % 251));
  const content = flate(
    ascii("BT /F1 12 Tf 72 720 Td (Boiler service report: no JavaScript, see /JSData) Tj ET q 100 0 0 100 72 500 cm /Im1 Do Q"),
  );
  const {
    content: objects,
    n,
    first,
  } = objStmContent([
    [20, "<</Type/Annot/Subtype/Link/Rect[0 0 10 10]/A<</S/URI/URI(https://example.test/)>>>>"],
    [21, "<</Producer(PropOps test)/Title(Quote #12)>>"],
  ]);
  const xrefRows = new Uint8Array(6 * 4).map((_, i) => (i * 13) & 255);
  return pdf(
    [
      obj(1, "<</Type/Catalog/Pages 2 0 R/OpenAction[3 0 R/Fit]/PageMode/UseNone>>"),
      obj(2, "<</Type/Pages/Kids[3 0 R]/Count 1>>"),
      obj(
        3,
        "<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]/Contents 4 0 R/Annots[20 0 R]/Resources<</Font<</F1 5 0 R>>/XObject<</Im1 7 0 R/Im2 8 0 R>>>>>>",
      ),
      obj(4, stream("/Filter/FlateDecode", content, { length: "9 0 R" })),
      obj(9, String(content.length)),
      obj(5, "<</Type/Font/Subtype/TrueType/BaseFont/Helvetica/FontDescriptor 6 0 R>>"),
      obj(6, concat(ascii("<</Type/FontDescriptor/FontName/Helvetica/FontFile2 10 0 R>>"))),
      obj(10, stream("/Filter/FlateDecode/Length1 4000", font)),
      obj(7, stream("/Type/XObject/Subtype/Image/Width 16/Height 16/ColorSpace/DeviceRGB/BitsPerComponent 8/Filter/DCTDecode", jpegish)),
      obj(8, stream("/Type/XObject/Subtype/Image/Width 10/Height 10/ColorSpace/DeviceRGB/BitsPerComponent 8/Filter/FlateDecode", pixels)),
      obj(11, stream(`/Type/ObjStm/N ${n}/First ${first}/Filter/FlateDecode`, flate(objects))),
      obj(
        12,
        stream(
          "/Type/XRef/W[1 2 1]/Size 6/Filter/FlateDecode/DecodeParms<</Predictor 12/Columns 4>>",
          encodeChain(xrefRows, ["Flate"], [4]),
        ),
      ),
      obj(13, stream("/Type/Metadata/Subtype/XML", ascii('<?xpacket begin=""?><x:xmpmeta xmlns:x="adobe:ns:meta/"/><?xpacket end="w"?>'))),
    ],
    "<</Root 1 0 R/Info 21 0 R/Size 22>>",
  );
}

describe("ordinary PDFs still pass", () => {
  it("text, a JPEG and a Flate image, a font, an object stream, an xref stream with predictors, a destination /OpenAction", async () => {
    expect(refusal(ordinaryPdf())).toBeUndefined();
    const res = await uploadDocument(ordinaryPdf(), "quote.pdf");
    expectStatus(res, 201);
  });
});

/* Property-based: generated spellings of names, filters, chains, white space, line ends and padding. */

const WHITE = [" ", "\n", "\r\n", "\r", "\t", "\f", "\0", " %c\n", "  "] as const;
const arbSpace = fc.constantFrom(...WHITE);
const arbGap = fc.oneof(fc.constant(""), arbSpace);
/** A name in some spelling: any character may be #xx, in either case of hex. */
const arbName = (name: string) =>
  fc
    .tuple(
      fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }),
      fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }),
    )
    .map(([escaped, upper]) => spellName(name, escaped, upper));
const arbFilterStep = fc.record({
  kind: fc.constantFrom<FilterKind>("Flate", "AHx", "A85", "LZW", "RL"),
  short: fc.boolean(),
  predictor: fc.option(fc.integer({ min: 1, max: 9 }), { nil: undefined }),
});
const arbChain = fc.array(arbFilterStep, { minLength: 1, maxLength: 3 });

/** Builds the object stream's dictionary and data for a chain; names spelt by `spell`. */
const arbSpelledChain = arbChain.chain((chain) =>
  fc
    .tuple(
      fc.tuple(...chain.map((s) => arbName(FILTER_NAMES[s.kind][s.short ? 1 : 0]))),
      fc.boolean(), // a lone filter as a name rather than an array
      arbName("Filter"),
      arbName("DecodeParms"),
      arbGap,
    )
    .map(([names, bare, filterKey, parmsKey, gap]) => {
      const predictors = chain.map((s) => (s.kind === "Flate" || s.kind === "LZW" ? s.predictor : undefined));
      const filter = chain.length === 1 && bare ? names[0] : `[${names.join(gap || " ")}]`;
      const parms = predictors.some((p) => p !== undefined)
        ? `${parmsKey}[${predictors.map((p) => (p === undefined ? "null" : `<</Predictor 12/Columns ${p}>>`)).join(" ")}]`
        : "";
      return {
        dict: `${filterKey}${gap}${filter}${parms}`,
        encode: (d: Uint8Array) =>
          encodeChain(
            d,
            chain.map((s) => s.kind),
            predictors,
          ),
      };
    }),
);

const ACTIVE = {
  javascript: fc.tuple(arbName("S"), arbName("JavaScript"), arbName("JS")).map(([s, js, key]) => `<<${s}${js}${key}(app.alert(1))>>`),
  launch: fc.tuple(arbName("S"), arbName("Launch")).map(([s, l]) => `<<${s}${l}/F(cmd.exe)>>`),
  xfa: arbName("XFA").map((x) => `<</Fields[]${x} 5 0 R>>`),
  additional: fc.tuple(arbName("AA"), arbName("JS")).map(([aa, js]) => `<<${aa}<</O<<${js}(x)>>>>>>`),
} as const;

/** A whole PDF hiding `action` in an object stream, every part of it spelt as generated. */
const arbHiddenPdf = (action: fc.Arbitrary<string>) =>
  fc
    .record({
      action,
      chain: arbSpelledChain,
      type: fc.option(fc.tuple(arbName("Type"), arbName("ObjStm")), { nil: undefined }),
      openAction: arbName("OpenAction"),
      eol: fc.constantFrom("\n", "\r\n", "\r"),
      sep: arbSpace,
      pad: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 6000 })),
      padAt: fc.boolean(),
    })
    .map((g) => {
      const { content, n, first } = objStmContent([[3, g.action]]);
      const pad = g.pad ? `/Pad${g.sep}(${"p".repeat(g.pad)})` : "";
      const type = g.type ? `${g.type[0]}${g.type[1]}` : "";
      const dict = `${g.padAt ? pad : ""}${type}${g.sep}/N ${n}/First${g.sep}${first}${g.sep}${g.chain.dict}${g.padAt ? "" : pad}`;
      return pdf([
        obj(1, `<</Type/Catalog/Pages 2 0 R${g.openAction} 3 0 R>>`),
        obj(2, "<</Type/Pages/Kids[]/Count 0>>"),
        obj(4, stream(dict, g.chain.encode(content), { eol: g.eol })),
      ]);
    });

describe("generated PDFs (fast-check)", () => {
  it.each(Object.entries(ACTIVE))("%s hidden in generated object streams is refused (150 cases)", (_kind, action) => {
    fc.assert(
      fc.property(arbHiddenPdf(action), (file) => {
        const err = refusal(file);
        expect(err?.reason).toBe("active_content");
      }),
      { numRuns: 150 },
    );
  });

  it("a generated sample answers 415 through the documents API (20 cases)", async () => {
    const before = await stored();
    const sample = fc.sample(arbHiddenPdf(fc.oneof(ACTIVE.javascript, ACTIVE.launch, ACTIVE.xfa)), { numRuns: 20, seed: 25 });
    for (const file of sample) {
      const res = await uploadDocument(file, "generated.pdf");
      expectStatus(res, 415);
    }
    expect(await stored()).toBe(before);
  });

  it("benign generated PDFs (same chains, spellings and padding, no action) pass (200 cases)", () => {
    const benign = fc.constantFrom(
      "<</Type/Page/MediaBox[0 0 612 792]>>",
      "[2 0 R/Fit]",
      "<</S/URI/URI(https://example.test/a)>>",
      "<</S/GoTo/D[2 0 R/XYZ 0 792 0]>>",
    );
    fc.assert(
      fc.property(arbHiddenPdf(benign), (file) => {
        expect(refusal(file)).toBeUndefined();
      }),
      { numRuns: 200 },
    );
  });
});

describe("DOCX with macros is refused (finding 2)", () => {
  const contentTypes = (extra: string) =>
    ascii(
      `<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">${extra}<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`,
    );
  const docx = (types: Uint8Array, extra: { name: string; data: Uint8Array; method?: number; uncompressedSize?: number }[] = []) =>
    makeZip([{ name: "[Content_Types].xml", data: types }, { name: "word/document.xml", data: ascii("<w:document/>") }, ...extra]);
  const deflated = (d: Uint8Array) => ({ data: deflateSync(d), method: 8, uncompressedSize: d.length });
  const MACROS = "DOCX contains macros (a VBA project or a macro-enabled document type): not accepted; save it as a plain .docx";

  const CASES: [string, Uint8Array][] = [
    ["word/vbaProject.bin", docx(contentTypes(""), [{ name: "word/vbaProject.bin", data: new Uint8Array(64) }])],
    ["WORD/VBAPROJECT.BIN (any case)", docx(contentTypes(""), [{ name: "WORD/VBAPROJECT.BIN", data: new Uint8Array(64) }])],
    ["word/vbaData.xml", docx(contentTypes(""), [{ name: "word/vbaData.xml", data: ascii("<wne:vbaSuppData/>") }])],
    [
      "a macro-enabled main part",
      docx(contentTypes('<Override PartName="/word/document.xml" ContentType="application/vnd.ms-word.document.macroEnabled.main+xml"/>')),
    ],
    [
      "a vbaProject content type on another part name",
      docx(contentTypes('<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>')),
    ],
    ["a .docm part", docx(contentTypes('<Override PartName="/word/x.docm" ContentType="application/octet-stream"/>'))],
    [
      "a macro-enabled type in a deflated [Content_Types].xml",
      makeZip([
        {
          name: "[Content_Types].xml",
          ...deflated(
            contentTypes('<Override PartName="/word/document.xml" ContentType="application/vnd.ms-word.document.macroEnabled.main+xml"/>'),
          ),
        },
        { name: "word/document.xml", data: ascii("<w:document/>") },
      ]),
    ],
    [
      "a vbaProject relationship from the document",
      docx(contentTypes(""), [
        {
          name: "word/_rels/document.xml.rels",
          ...deflated(
            ascii(
              '<Relationships><Relationship Id="r9" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" Target="m.bin"/></Relationships>',
            ),
          ),
        },
      ]),
    ],
  ];

  it.each(CASES)("%s", async (_name, file) => {
    await expect(sniffDeep(file, DOCS)).rejects.toThrow(MACROS);
  });

  it("answers 415 through the API; a plain DOCX still passes", async () => {
    const res = await uploadDocument(CASES[0]?.[1] as Uint8Array, "report.docx");
    expectStatus(res, 415);
    expect(res.body.message).toBe(`file: ${MACROS}`);
    expect((await sniffDeep(makeDocx(), DOCS)).type).toBe("docx");
    expect((await sniffDeep(docx(contentTypes(""), [{ name: "word/styles.xml", ...deflated(ascii("<w:styles/>")) }]), DOCS)).type).toBe(
      "docx",
    );
  });
});

/** A JPEG with a COM segment carrying `text`. */
function jpegWithComment(text: string): Uint8Array {
  const jpeg = makeJpeg(40, 30);
  const payload = bytes(text);
  return concat(
    jpeg.subarray(0, 2),
    new Uint8Array([0xff, 0xfe, (payload.length + 2) >> 8, (payload.length + 2) & 0xff]),
    payload,
    jpeg.subarray(2),
  );
}

function crc32(data: Uint8Array): number {
  let c = ~0;
  for (const b of data) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

/** A PNG with a tEXt chunk (`Comment`) right after IHDR. */
function pngWithText(text: string): Uint8Array {
  const png = makePng(20, 10);
  const data = concat(ascii("Comment\0"), bytes(text));
  const chunk = new Uint8Array(12 + data.length);
  const dv = new DataView(chunk.buffer);
  dv.setUint32(0, data.length);
  chunk.set(ascii("tEXt"), 4);
  chunk.set(data, 8);
  dv.setUint32(8 + data.length, crc32(chunk.subarray(4, 8 + data.length)));
  return concat(png.subarray(0, 33), chunk, png.subarray(33));
}

describe("image polyglots in other spellings are refused (finding 3)", () => {
  const MARKUP = [
    "<div onpointerenter=alert(1)>",
    "<p/onclick=alert(1)>",
    '<x:y data-a="1" onfocusin="alert(1)">',
    "<details open ontoggle=alert(1)>",
    '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
    "<META HTTP-EQUIV=refresh CONTENT=0>",
    "<style>@import url(https://evil.example/x.css)</style>",
    "@import 'https://evil.example/x.css';",
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href="&#x6A;avascript:alert(1)">x</a>',
    '<a href="&#X6a;&#x61;vascript:alert(1)">x</a>',
    "<a href=&#0000106&#0000097&#0000118&#0000097script:alert(1)>x</a>",
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    '<a href="java&Tab;script&colon;alert(1)">x</a>',
    '<a href="java\nscript:alert(1)">x</a>',
    "<a href=JaVaScRiPt:alert(1)>x</a>",
    "<a href=vbscript:msgbox(1)>x</a>",
    "<iframe src=data:text/html,<b>x</b>>",
    "<link rel=stylesheet href=//evil.example/x.css>",
    "<base href=//evil.example/>",
  ];

  it.each(MARKUP)("JPEG comment and PNG text chunk with %j", (markup) => {
    expect(refusal(jpegWithComment(markup))?.message).toBe("file is a polyglot: a JPEG that also carries HTML/script content");
    expect(refusal(pngWithText(markup))?.message).toBe("file is a polyglot: a PNG that also carries HTML/script content");
  });

  it("ordinary comments and photos pass", () => {
    for (const text of [
      "Taken at <unit 5> by Bob, svg and script",
      "Kitchen; onsite=yes; session:3",
      "Boiler & flue, javascript off",
      "a < b and c > d",
    ]) {
      expect(refusal(jpegWithComment(text)), text).toBeUndefined();
      expect(refusal(pngWithText(text)), text).toBeUndefined();
    }
    for (let seed = 1; seed <= 6; seed++) expect(refusal(makeJpeg(640, 480, 85, seed))).toBeUndefined();
  });
});
