// The frame resize against Pillow's own (the reference resizes with PIL's BILINEAR): Pillow, from
// the project's .venv (tools/test.sh installs it), resizes the same generated image, and every
// value must match; tolerance 0 levels (the arithmetic is the same fixed point), reported as the
// largest difference. OpenCV's INTER_LINEAR is shown to differ on the same shrink.
#include <catch2/catch.hpp>

#include <opencv2/imgproc.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "dfer/data/pil_resize.h"
#include "support/fixtures.h"

namespace fs = std::filesystem;

namespace {

std::string python() {
  return std::string(DFER_SOURCE_DIR) + "/.venv/bin/python";
}

bool have_pillow() {
  const std::string cmd = python() + " -c 'import PIL' > /dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

// A busy test card: gradients, a fine checkerboard (what aliasing shows) and a diagonal ramp.
std::vector<uint8_t> test_card(int h, int w) {
  std::vector<uint8_t> im(static_cast<size_t>(h) * w * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = &im[(static_cast<size_t>(y) * w + x) * 3];
      p[0] = static_cast<uint8_t>((x * 255) / std::max(1, w - 1));
      p[1] = static_cast<uint8_t>(((x / 2 + y / 2) % 2) * 200 + 20);
      p[2] = static_cast<uint8_t>((x * 7 + y * 13) % 256);
    }
  return im;
}

std::vector<uint8_t> pillow_resize(const std::vector<uint8_t>& im, int h, int w, int oh, int ow,
                                   const fs::path& dir) {
  const auto in = dir / "in.raw", out = dir / "out.raw";
  std::ofstream(in, std::ios::binary)
      .write(reinterpret_cast<const char*>(im.data()), static_cast<std::streamsize>(im.size()));
  std::ostringstream cmd;
  cmd << python() << " -c \"from PIL import Image; "
      << "im = Image.frombytes('RGB', (" << w << ", " << h << "), open('" << in.string()
      << "', 'rb').read()); "
      << "open('" << out.string() << "', 'wb').write(im.resize((" << ow << ", " << oh
      << "), Image.BILINEAR).tobytes())\"";
  REQUIRE(std::system(cmd.str().c_str()) == 0);
  std::ifstream f(out, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

int max_diff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  REQUIRE(a.size() == b.size());
  int worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(int(a[i]) - int(b[i])));
  return worst;
}

}  // namespace

TEST_CASE("frame resize equals Pillow's BILINEAR, shrinking and enlarging", "[data][resize]") {
  if (!have_pillow()) {
    if (std::getenv("CI")) FAIL("Pillow is missing from .venv (tools/test.sh installs it)");
    WARN("Pillow not in .venv: skipped (tools/test.sh installs it)");
    return;
  }
  const auto dir = dfer::test::temp_dir("pil_resize");
  struct Case {
    int h, w, oh, ow;
  };
  for (const Case c : {Case{256, 256, 160, 160}, Case{200, 320, 125, 200}, Case{37, 41, 64, 90},
                       Case{99, 64, 41, 64}, Case{256, 340, 160, 212}}) {
    INFO(c.h << "x" << c.w << " -> " << c.oh << "x" << c.ow);
    const auto im = test_card(c.h, c.w);
    std::vector<uint8_t> ours(static_cast<size_t>(c.oh) * c.ow * 3);
    dfer::data::pil_bilinear_resize(im.data(), c.h, c.w, static_cast<size_t>(c.w) * 3, 3,
                                    ours.data(), c.oh, c.ow);
    CHECK(max_diff(ours, pillow_resize(im, c.h, c.w, c.oh, c.ow, dir)) == 0);
  }
  // What the decoder did before: OpenCV's INTER_LINEAR aliases the checkerboard on a shrink.
  const auto im = test_card(256, 256);
  cv::Mat src(256, 256, CV_8UC3, const_cast<uint8_t*>(im.data())), cv_out;
  cv::resize(src, cv_out, cv::Size(160, 160), 0, 0, cv::INTER_LINEAR);
  std::vector<uint8_t> cv_vec(cv_out.data, cv_out.data + cv_out.total() * 3);
  CHECK(max_diff(cv_vec, pillow_resize(im, 256, 256, 160, 160, dir)) > 20);
}
