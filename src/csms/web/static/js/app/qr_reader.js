// Reading QR codes from the camera in every current browser: the browser's own BarcodeDetector where it has
// one that reads QR codes (Chrome on Android and macOS, Safari on macOS), else zxing-wasm, the ZXing-C++
// decoder compiled to WebAssembly (vendored under /static/vendor/zxing-wasm/ by `make vendor`, loaded only
// when a scan needs it, its .wasm from csms itself, never from a CDN).

const ZXING = "/static/vendor/zxing-wasm/reader/index.js";
const WASM = "/static/vendor/zxing-wasm/reader/zxing_reader.wasm";

/** A reader with `read(video)`: the text of a QR code in the current frame, or null. */
export async function qrReader() {
  if (await hasNativeQrDetector()) {
    const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    return { kind: "native", read: async (video) => (await detector.detect(video))[0]?.rawValue || null };
  }
  const zxing = await loadZxing();
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  return {
    kind: "zxing-wasm",
    read: async (video) => {
      if (!video.videoWidth) return null;
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      context.drawImage(video, 0, 0);
      const frame = context.getImageData(0, 0, canvas.width, canvas.height);
      const [code] = await zxing.readBarcodes(frame, { formats: ["QRCode"], maxNumberOfSymbols: 1 });
      return code?.isValid ? code.text : null;
    },
  };
}

let zxingModule = null;

/** The decoder, loaded and compiled once per page, with its .wasm from csms (never the CDN it defaults to). */
function loadZxing() {
  zxingModule ??= import(ZXING).then(async (zxing) => {
    await zxing.prepareZXingModule({ overrides: { locateFile: (file) => (file.endsWith(".wasm") ? WASM : file) }, fireImmediately: true });
    return zxing;
  });
  return zxingModule;
}

async function hasNativeQrDetector() {
  if (!("BarcodeDetector" in window)) return false;
  try {
    return (await window.BarcodeDetector.getSupportedFormats()).includes("qr_code");
  } catch {
    return false;
  }
}
