import { readImageHeader, stripMetadata } from "@propops/media-core/photo-compressor";
import { describe, expect, it } from "vitest";
import {
  ascii,
  concat,
  hasExif,
  makeDocx,
  makeJpeg,
  makeMp4,
  makePdf,
  makePng,
  makeZip,
  pngBomb,
  withExif,
} from "../../scripts/lib/media-fixtures";
import { sniff, ZIP_LIMITS } from "../../src/media/sniff";

const ALL = ["jpeg", "png", "mp4", "pdf", "docx"] as const;

async function deflateRaw(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("deflate-raw"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

describe("sniff: the bytes decide", () => {
  it("recognises each accepted format whatever it is called", () => {
    expect(sniff(makeJpeg(40, 30), ALL)).toMatchObject({ type: "jpeg", contentType: "image/jpeg", width: 40, height: 30 });
    expect(sniff(makePng(40, 30, { alpha: true }), ALL)).toMatchObject({ type: "png", contentType: "image/png", width: 40, height: 30 });
    expect(sniff(makeMp4(), ALL)).toMatchObject({ type: "mp4", contentType: "video/mp4" });
    expect(sniff(makePdf(), ALL)).toMatchObject({ type: "pdf", contentType: "application/pdf" });
    expect(sniff(makeDocx(), ALL).type).toBe("docx");
  });

  it("reports upright dimensions for EXIF orientations 5–8", () => {
    expect(sniff(withExif(makeJpeg(40, 30), 8), ALL)).toMatchObject({ width: 30, height: 40 });
    expect(readImageHeader(withExif(makeJpeg(40, 30), 8)).orientation).toBe(8);
  });

  it("refuses a format outside the accepted list", () => {
    expect(() => sniff(makePdf(), ["jpeg", "png", "mp4"])).toThrow("file content is not an accepted format (JPEG, PNG, MP4)");
  });

  it("accepts a camera trailer after EOI that is not another format", () => {
    const jpeg = concat(makeJpeg(40, 30), new Uint8Array(64).fill(0));
    expect(sniff(jpeg, ALL).type).toBe("jpeg");
  });

  it("refuses HTML smuggled into an image's first KiB", () => {
    const jpeg = makeJpeg(40, 30);
    const text = ascii("<script>alert(1)</script>");
    const com = new Uint8Array([0xff, 0xfe, 0, text.length + 2]);
    expect(() => sniff(concat(jpeg.subarray(0, 2), com, text, jpeg.subarray(2)), ALL)).toThrow(
      /polyglot: a JPEG that also carries HTML\/script/,
    );
  });

  it("MP4: a non-MP4 brand, a truncated box and a file without moov are refused", () => {
    const mp4 = makeMp4();
    const qt = mp4.slice();
    qt.set(ascii("qt  "), 8);
    qt.set(ascii("qt  qt  qt  qt  "), 16);
    expect(() => sniff(qt, ALL)).toThrow('video brand "qt  " is not MP4');
    expect(() => sniff(mp4.subarray(0, mp4.length - 10), ALL)).toThrow("MP4 is truncated");
    expect(() => sniff(mp4.subarray(0, 32), ALL)).toThrow(/moov\/mdat/);
  });

  it("PNG: a bomb is refused from the header", () => {
    expect(() => sniff(pngBomb(30_000, 30_000), ALL)).toThrow("image is 30000×30000 (900 MP), above the 50 MP limit");
    expect(sniff(pngBomb(5000, 5000), ALL)).toMatchObject({ width: 5000, height: 5000 });
  });

  it("DOCX: a real deflate bomb (50 MiB of zeros in a few KiB) is refused from the central directory", async () => {
    const zeros = new Uint8Array(50 * 1024 * 1024);
    const packed = await deflateRaw(zeros);
    expect(zeros.length / packed.length).toBeGreaterThan(ZIP_LIMITS.maxRatio);
    const bomb = makeZip([
      { name: "[Content_Types].xml", data: ascii("<Types/>") },
      { name: "word/document.xml", data: packed, uncompressedSize: zeros.length, method: 8 },
    ]);
    expect(bomb.length).toBeLessThan(200 * 1024);
    expect(() => sniff(bomb, ALL)).toThrow(/^zip bomb: word\/document.xml expands \d+:1 \(limit 100:1\)$/);
  });

  it("DOCX: a compressed but honest document passes", async () => {
    const xml = ascii(`<w:document>${"<w:p>Boiler service report. </w:p>".repeat(2000)}</w:document>`);
    const docx = makeZip([
      { name: "[Content_Types].xml", data: ascii("<Types/>") },
      { name: "word/document.xml", data: await deflateRaw(xml), uncompressedSize: xml.length, method: 8 },
    ]);
    expect(sniff(docx, ALL).type).toBe("docx");
  });

  it("ZIP64 and a missing end record are refused", () => {
    const docx = makeDocx();
    expect(() => sniff(docx.subarray(0, docx.length - 22), ALL)).toThrow(/end record not found/);
    const z64 = docx.slice();
    new DataView(z64.buffer).setUint16(z64.length - 22 + 10, 0xffff, true);
    expect(() => sniff(z64, ALL)).toThrow("ZIP64 archives are not accepted as DOCX");
  });
});

describe("stripMetadata (the lossless path)", () => {
  it("drops APP1 Exif and COM from a JPEG and text chunks from a PNG, keeping the image", () => {
    const jpeg = withExif(makeJpeg(40, 30), 1);
    const stripped = stripMetadata(jpeg, readImageHeader(jpeg));
    expect(hasExif(stripped)).toBe(false);
    expect(readImageHeader(stripped)).toMatchObject({ width: 40, height: 30 });
    const png = makePng(20, 10);
    const sp = stripMetadata(png, readImageHeader(png));
    expect(readImageHeader(sp)).toMatchObject({ width: 20, height: 10 });
  });
});
