/* How many SMS segments a text costs: a line-for-line port of smsbot/segments.py.
 *
 * GSM-7: 160 septets in one segment, 153 per segment when split; the extension characters
 * take two septets and an escape pair never straddles two segments. Anything outside GSM-7
 * makes the whole text UCS-2: 70 UTF-16 units, 67 per segment when split, and a surrogate
 * pair never straddles two segments. Tests run it against the same vectors as the Python.
 */
(function (root) {
  "use strict";

  var GSM7_BASIC = new Set(Array.from(
    "@£$¥èéùìòÇ\nØø\rÅå" +
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ" +
    " !\"#¤%&'()*+,-./" +
    "0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§" +
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
  ));
  var GSM7_EXTENSION = new Set(Array.from("\f^{}\\[~]|€"));
  var GSM7_SINGLE = 160, GSM7_MULTI = 153, UCS2_SINGLE = 70, UCS2_MULTI = 67;

  /* Python's str.strip() whitespace (str.isspace), not JavaScript's \s: the server strips
   * a message before it is sent, so the counter must strip exactly the same characters. */
  var PY_SPACE = "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
  var STRIP = new RegExp("^[" + PY_SPACE + "]+|[" + PY_SPACE + "]+$", "g");

  function pack(weights, capacity) {
    var segments = 1, used = 0;
    for (var i = 0; i < weights.length; i++) {
      if (used + weights[i] > capacity) { segments += 1; used = 0; }
      used += weights[i];
    }
    return segments;
  }

  function result(encoding, segments, units, perSegment, nonGsm) {
    return { encoding: encoding, segments: segments, units: units, perSegment: perSegment, nonGsm: nonGsm || [] };
  }

  function measure(text) {
    var chars = Array.from(text);  // code points; a lone surrogate stays one item
    var nonGsm = new Set(), extension = 0;
    chars.forEach(function (c) {
      if (GSM7_EXTENSION.has(c)) extension += 1;
      else if (!GSM7_BASIC.has(c)) nonGsm.add(c);
    });
    if (nonGsm.size === 0) {
      var septets = chars.length + extension;
      if (septets <= GSM7_SINGLE) return result("GSM-7", 1, septets, GSM7_SINGLE);
      if (!extension) return result("GSM-7", Math.ceil(septets / GSM7_MULTI), septets, GSM7_MULTI);
      var w7 = chars.map(function (c) { return GSM7_EXTENSION.has(c) ? 2 : 1; });
      return result("GSM-7", pack(w7, GSM7_MULTI), septets, GSM7_MULTI);
    }
    var sorted = Array.from(nonGsm).sort();
    var units = text.length;  // JavaScript strings are UTF-16: one unit per BMP char, two per astral
    if (units <= UCS2_SINGLE) return result("UCS-2", 1, units, UCS2_SINGLE, sorted);
    if (units === chars.length) return result("UCS-2", Math.ceil(units / UCS2_MULTI), units, UCS2_MULTI, sorted);
    var w16 = chars.map(function (c) { return c.length; });
    return result("UCS-2", pack(w16, UCS2_MULTI), units, UCS2_MULTI, sorted);
  }

  /* What the server will send for a textarea's value: CRLF as LF, stripped as Python strips. */
  function clean(text) {
    return String(text || "").replace(/\r\n/g, "\n").replace(/\r/g, "\n").replace(STRIP, "");
  }

  var api = { measure: measure, clean: clean };
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.SmsSegments = api;
})(typeof window !== "undefined" ? window : this);
