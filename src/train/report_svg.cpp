// The SVG back end of the report's figures, and the text escaping shared by the SVG and the page.
#include <fmt/format.h>

#include "dfer/train/report.h"

namespace dfer::train {

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      // Control characters other than tab and newline are not allowed in XML (inline SVG) and
      // mean nothing in a label.
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r')
          out += "\xEF\xBF\xBD";  // U+FFFD
        else
          out += c;
    }
  }
  return out;
}

namespace {

std::string hex(Rgb c) {
  return fmt::format("#{:02x}{:02x}{:02x}", c.r, c.g, c.b);
}

// Two decimals are finer than a pixel at any size the page or a paper shows.
std::string num(double v) {
  std::string s = fmt::format("{:.2f}", v);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s == "-0" ? "0" : s;
}

std::string paint(const Shape& s) {
  std::string a = fmt::format(" fill=\"{}\"", s.fill ? hex(*s.fill) : std::string("none"));
  if (s.stroke) {
    a += fmt::format(" stroke=\"{}\" stroke-width=\"{}\"", hex(*s.stroke), num(s.stroke_width));
    if (s.dashed) a += " stroke-dasharray=\"6 4\"";
  }
  return a;
}

std::string shape_svg(const Shape& s) {
  switch (s.kind) {
    case Shape::Kind::kPolyline: {
      std::string pts;
      for (const auto& p : s.points)
        pts += fmt::format("{}{},{}", pts.empty() ? "" : " ", num(p.x), num(p.y));
      Shape line = s;
      line.fill.reset();
      return fmt::format(
          "<polyline points=\"{}\"{} stroke-linejoin=\"round\" stroke-linecap=\"round\"/>", pts,
          paint(line));
    }
    case Shape::Kind::kRect: {
      const auto& a = s.points[0];
      const auto& b = s.points[1];
      return fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"{}/>", num(a.x),
                         num(a.y), num(b.x - a.x), num(b.y - a.y), paint(s));
    }
    case Shape::Kind::kCircle:
      return fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"{}\"{}/>", num(s.points[0].x),
                         num(s.points[0].y), num(s.radius), paint(s));
    case Shape::Kind::kText: {
      const auto& p = s.points[0];
      const char* anchor = s.anchor == Shape::Anchor::kMiddle ? "middle"
                           : s.anchor == Shape::Anchor::kEnd  ? "end"
                                                              : "start";
      std::string t =
          fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"{}\" text-anchor=\"{}\" fill=\"{}\"",
                      num(p.x), num(p.y), num(s.font_px), anchor, hex(s.fill.value_or(Rgb{})));
      if (s.bold) t += " font-weight=\"bold\"";
      if (s.vertical) t += fmt::format(" transform=\"rotate(-90 {} {})\"", num(p.x), num(p.y));
      return fmt::format("{}>{}</text>", t, html_escape(s.text));
    }
  }
  return "";
}

}  // namespace

std::string figure_svg(const Figure& f) {
  const std::string w = num(f.width), h = num(f.height);
  std::string out = "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"" + html_escape(f.id) +
                    "\" class=\"plot\" viewBox=\"0 0 " + w + " " + h + "\" width=\"" + w +
                    "\" height=\"" + h + "\" role=\"img\" aria-labelledby=\"" + html_escape(f.id) +
                    "-title\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n";
  out += "<title id=\"" + html_escape(f.id) + "-title\">" + html_escape(f.title) + "</title>\n";
  out += "<rect width=\"" + w + "\" height=\"" + h + "\" fill=\"#ffffff\"/>\n";
  for (const auto& s : f.shapes) out += shape_svg(s) + "\n";
  return out + "</svg>";
}

}  // namespace dfer::train
