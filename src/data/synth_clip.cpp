// Synthetic clips: identities, the per-class expression dynamics (onset -> apex -> offset),
// nuisance motion (blinks, speech, head pose, gaze drift) and the camera (light, blur, noise).
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

#include "dfer/util/error.h"
#include "synth_clip.h"

namespace dfer::data::detail {

namespace {

constexpr double kTwoPi = 6.283185307179586;

cv::Scalar lerp(const cv::Scalar& a, const cv::Scalar& b, double t) {
  return a * (1 - t) + b * t;
}

// Apex controls of each class (DFEW order). Shapes, not colours, tell the classes apart; pairs
// that people confuse (surprise/fear, angry/disgust) share controls on purpose.
FaceState apex_of(int label, SynthRng& rng) {
  FaceState a;
  switch (label) {
    case 0:  // Happy: smile, cheeks push the lower lids up, sometimes teeth
      a.corner_up = 1.0;
      a.mouth_width = 0.5;
      a.lower_lid = 0.8;
      a.eye_open = -0.3;
      a.brow_raise = 0.1;
      a.mouth_open = rng.chance(0.5) ? rng.uniform(0.2, 0.5) : 0.0;
      a.upper_lip = 0.2;
      break;
    case 1:  // Sad: inner brows up, corners down, drooping upper lids
      a.brow_inner = 1.0;
      a.brow_raise = -0.1;
      a.brow_squeeze = 0.3;
      a.brow_arch = -0.3;
      a.eye_open = -0.25;
      a.lid_droop = 0.9;
      a.corner_up = -1.0;
      a.mouth_width = -0.1;
      a.lip_press = 0.3;
      break;
    case 2:  // Neutral
      break;
    case 3:  // Angry: brows down and together, glare, pressed lips or a snarl
      a.brow_raise = -0.8;
      a.brow_inner = -1.0;
      a.brow_squeeze = 1.0;
      a.eye_open = 0.15;
      a.lower_lid = 0.5;
      a.corner_up = -0.35;
      a.mouth_width = -0.35;
      a.nose_wrinkle = 0.2;
      if (rng.chance(0.5)) {
        a.lip_press = 1.0;
      } else {
        a.mouth_open = 0.35;
        a.upper_lip = 0.5;
        a.lip_press = 0.3;
      }
      break;
    case 4:  // Surprise: brows high and arched, eyes wide, jaw drop into an "O"
      a.brow_raise = 1.0;
      a.brow_inner = 0.2;
      a.brow_arch = 0.8;
      a.brow_squeeze = -0.1;
      a.eye_open = 0.9;
      a.mouth_open = 1.0;
      a.mouth_round = 1.0;
      a.mouth_width = -0.35;
      break;
    case 5:  // Disgust: nose wrinkle, raised (often one-sided) upper lip, narrowed eyes
      a.brow_raise = -0.4;
      a.brow_inner = -0.4;
      a.brow_squeeze = 0.5;
      a.eye_open = -0.35;
      a.lower_lid = 0.7;
      a.corner_up = -0.5;
      a.mouth_open = 0.2;
      a.upper_lip = 1.0;
      a.nose_wrinkle = 1.0;
      a.asym = rng.sign();  // which side of the upper lip rises
      a.asym *= rng.uniform(0.3, 0.8);
      break;
    case 6:  // Fear: brows raised and drawn together (straight), eyes wide, lips stretched
      a.brow_raise = 0.8;
      a.brow_inner = 0.9;
      a.brow_squeeze = 0.7;
      a.brow_arch = -0.4;
      a.eye_open = 0.9;
      a.lower_lid = 0.2;
      a.corner_up = -0.3;
      a.mouth_width = 0.9;
      a.mouth_open = 0.5;
      a.upper_lip = 0.1;
      break;
    default:
      throw Error("synth: label " + std::to_string(label) + " out of range [0, 7)");
  }
  // Per-video variation of every control (people express differently).
  for (double* v : {&a.brow_raise, &a.brow_inner, &a.brow_squeeze, &a.brow_arch, &a.eye_open,
                    &a.lid_droop, &a.lower_lid, &a.corner_up, &a.mouth_width, &a.mouth_open,
                    &a.mouth_round, &a.upper_lip, &a.lip_press, &a.nose_wrinkle}) {
    *v *= rng.uniform(0.8, 1.2);
  }
  return a;
}

// Smooth onset/offset ramp.
double smooth(double x) {
  x = std::clamp(x, 0.0, 1.0);
  return x * x * (3 - 2 * x);
}

// Sum of two random sinusoids: slow, natural-looking wobble in [-amp, amp].
struct Wobble {
  double amp = 0, f1 = 0, f2 = 0, p1 = 0, p2 = 0;
  Wobble() = default;
  Wobble(SynthRng& rng, double a) : amp(a) {
    f1 = rng.uniform(0.02, 0.06);
    f2 = rng.uniform(0.06, 0.12);
    p1 = rng.uniform(0, kTwoPi);
    p2 = rng.uniform(0, kTwoPi);
  }
  double at(int t) const {
    return amp * (0.7 * std::sin(kTwoPi * f1 * t + p1) + 0.3 * std::sin(kTwoPi * f2 * t + p2));
  }
};

// Random colour; the channels are drawn in a fixed order (argument evaluation order is not).
cv::Scalar random_color(SynthRng& rng, double lo, double hi) {
  double b = rng.uniform(lo, hi);
  double g = rng.uniform(lo, hi);
  double r = rng.uniform(lo, hi);
  return cv::Scalar(b, g, r);
}

void paint_background(ClipPlan& plan, SynthRng& rng) {
  const int s = plan.size;
  const cv::Scalar c0 = random_color(rng, 30, 230);
  const cv::Scalar c1 = random_color(rng, 30, 230);
  double ang = rng.uniform(0, kTwoPi);
  cv::Mat bg(s, s, CV_8UC3);
  for (int y = 0; y < s; ++y) {
    for (int x = 0; x < s; ++x) {
      double t =
          0.5 + 0.5 * ((x - s / 2.0) * std::cos(ang) + (y - s / 2.0) * std::sin(ang)) / (s * 0.71);
      cv::Scalar c = lerp(c0, c1, t);
      bg.at<cv::Vec3b>(y, x) =
          cv::Vec3b(cv::saturate_cast<uchar>(c[0]), cv::saturate_cast<uchar>(c[1]),
                    cv::saturate_cast<uchar>(c[2]));
    }
  }
  int blobs = static_cast<int>(rng.integer(2, 6));
  for (int k = 0; k < blobs; ++k) {
    const cv::Scalar c = random_color(rng, 20, 240);
    const int px = static_cast<int>(rng.uniform(0, s));
    const cv::Point p(px, static_cast<int>(rng.uniform(0, s)));
    if (rng.chance(0.5)) {
      cv::circle(bg, p, static_cast<int>(rng.uniform(0.05, 0.25) * s), c, cv::FILLED, cv::LINE_AA);
    } else {
      const int qx = p.x + static_cast<int>(rng.uniform(-0.3, 0.3) * s);
      const cv::Point q(qx, p.y + static_cast<int>(rng.uniform(-0.3, 0.3) * s));
      cv::rectangle(bg, p, q, c, cv::FILLED, cv::LINE_AA);
    }
  }
  cv::GaussianBlur(bg, plan.background, cv::Size(0, 0), s * rng.uniform(0.01, 0.04));
}

void plan_lighting(ClipPlan& plan, SynthRng& rng) {
  const int n = plan.size;
  double ang = rng.uniform(0, kTwoPi), k = rng.uniform(0.0, 0.4), gain = rng.uniform(0.75, 1.15);
  cv::Vec3f tint;
  for (int c = 0; c < 3; ++c) tint[c] = static_cast<float>(rng.uniform(0.94, 1.06));
  plan.shading.create(n, n, CV_32FC3);
  for (int y = 0; y < n; ++y) {
    for (int x = 0; x < n; ++x) {
      double d = ((x - n / 2.0) * std::cos(ang) + (y - n / 2.0) * std::sin(ang)) / (n / 2.0);
      float g = static_cast<float>(gain * (1.0 + k * d));
      plan.shading.at<cv::Vec3f>(y, x) = tint * g;
    }
  }
  Wobble flick(rng, rng.uniform(0.0, 0.02));
  for (size_t t = 0; t < plan.states.size(); ++t)
    plan.flicker.push_back(1.0 + flick.at(static_cast<int>(t)));
  plan.blur_sigma = rng.chance(0.5) ? rng.uniform(0.3, 1.0) : 0.0;
  plan.noise_sigma = rng.uniform(1.0, 6.0);
  plan.noise_seed = rng.bits();
  plan.noise.create(2 * n, 2 * n, CV_32FC3);
  cv::RNG(rng.bits()).fill(plan.noise, cv::RNG::NORMAL, 0.0, plan.noise_sigma);
}

}  // namespace

ClipPlan plan_clip(const SynthOptions& opt, int64_t index, int label) {
  if (label < 0 || label >= kSynthNumClasses) {
    throw Error("synth: label " + std::to_string(label) + " out of range [0, 7)");
  }
  ClipPlan plan;
  plan.label = label;
  plan.size = opt.size;
  // Independent streams, so e.g. changing the identity model does not reshuffle the timing.
  SynthRng rid(synth_seed(opt.seed, static_cast<uint64_t>(index), 1));
  SynthRng rex(synth_seed(opt.seed, static_cast<uint64_t>(index), 2));
  SynthRng rmo(synth_seed(opt.seed, static_cast<uint64_t>(index), 3));
  SynthRng rsc(synth_seed(opt.seed, static_cast<uint64_t>(index), 4));
  plan.id = random_identity(rid);
  for (double* v :
       {&plan.id.eye_w, &plan.id.eye_up, &plan.id.eye_lo, &plan.id.brow_len, &plan.id.brow_thick,
        &plan.id.brow_arch, &plan.id.nose_w, &plan.id.mouth_w, &plan.id.lip_up, &plan.id.lip_lo})
    *v *= opt.feature_scale;
  const int T = static_cast<int>(rex.integer(opt.min_frames, opt.max_frames));

  // Timing: start after a neutral lead-in, return to neutral before the end.
  FaceState apex = apex_of(label, rex);
  double intensity = label == 2 ? 0.0 : rex.uniform(opt.min_intensity, 1.0);
  double on = rex.uniform(0.08, 0.3) * T, rise = rex.uniform(0.12, 0.25) * T;
  double hold = rex.uniform(0.15, 0.35) * T, fall = rex.uniform(0.12, 0.25) * T;
  double budget = (T - 2) - on;
  if (rise + hold + fall > budget) {
    double f = budget / (rise + hold + fall);
    rise *= f;
    hold *= f;
    fall *= f;
  }
  rise = std::max(rise, 1.0), fall = std::max(fall, 1.0);
  plan.onset = static_cast<int>(on);
  plan.apex_begin = static_cast<int>(on + rise);
  plan.apex_end = static_cast<int>(on + rise + hold);
  plan.offset_end = std::min(T - 1, static_cast<int>(std::ceil(on + rise + hold + fall)));
  plan.apex_intensity = intensity;

  // Nuisance motion shared by all classes.
  std::vector<int> blinks;
  for (int k = static_cast<int>(rmo.integer(0, 3)); k > 0; --k)
    blinks.push_back(static_cast<int>(rmo.integer(0, T - 1)));
  const bool speech = rmo.chance(0.3);
  const double sp_amp = rmo.uniform(0.1, 0.3), sp_per = rmo.uniform(5, 9),
               sp_ph = rmo.uniform(0, kTwoPi);
  const int sp_a = static_cast<int>(rmo.integer(0, T / 2)),
            sp_b = static_cast<int>(rmo.integer(T / 2, T));
  Wobble yaw(rmo, rmo.uniform(0, 0.08)), pitch(rmo, rmo.uniform(0, 0.05)),
      roll(rmo, rmo.uniform(0, 0.04));
  Wobble wx(rmo, 0.01), wy(rmo, 0.01), brow_n(rmo, 0.05), corner_n(rmo, 0.05);
  const double yaw0 = rmo.uniform(-0.25, 0.25), pitch0 = rmo.uniform(-0.15, 0.15);
  const double roll0 = rmo.uniform(-0.08, 0.08), dx0 = rmo.uniform(-0.03, 0.03);
  double dy0 = rmo.uniform(-0.03, 0.03), scale0 = rmo.uniform(1.08, 1.28);
  if (opt.face_zoom != 1.0) {
    // A tighter framing, as aligned face crops are: scale about the inner face (brows to mouth,
    // centred ~0.07 below the eye line in face units) and bring that centre to the frame centre.
    scale0 *= opt.face_zoom;
    dy0 = 0.5 * dy0 + 0.02 - 0.07 * scale0;
  }
  const double gp = rmo.uniform(-0.3, 0.3), gy = rmo.uniform(-0.5, 0.5);
  Wobble gdp(rmo, rmo.uniform(0, 0.04)), gdy(rmo, rmo.uniform(0, 0.05));

  for (int t = 0; t < T; ++t) {
    double env = 0;
    if (t >= plan.onset && t <= plan.offset_end) {
      env = t < on + rise
                ? smooth((t - on) / rise)
                : (t <= on + rise + hold ? 1.0 : 1.0 - smooth((t - on - rise - hold) / fall));
    }
    double a = env * intensity;
    FaceState s;
    auto scale = [&](double v) { return v * a; };
    s.brow_raise = scale(apex.brow_raise) + brow_n.at(t);
    s.brow_inner = scale(apex.brow_inner);
    s.brow_squeeze = scale(apex.brow_squeeze);
    s.brow_arch = scale(apex.brow_arch);
    s.eye_open = scale(apex.eye_open);
    s.lid_droop = scale(apex.lid_droop);
    s.lower_lid = scale(apex.lower_lid);
    s.corner_up = scale(apex.corner_up) + corner_n.at(t);
    s.mouth_width = scale(apex.mouth_width);
    s.mouth_open = scale(apex.mouth_open);
    s.mouth_round = scale(apex.mouth_round);
    s.upper_lip = scale(apex.upper_lip);
    s.lip_press = scale(apex.lip_press);
    s.nose_wrinkle = scale(apex.nose_wrinkle);
    s.asym = scale(apex.asym);
    if (speech && t >= sp_a && t < sp_b) {
      s.mouth_open += sp_amp * std::max(0.0, std::sin(kTwoPi * t / sp_per + sp_ph));
    }
    for (int b : blinks) {
      static const double kProfile[5] = {0.45, 0.9, 1.0, 0.6, 0.2};
      if (t >= b && t < b + 5) s.blink = std::max(s.blink, kProfile[t - b]);
    }
    s.head_yaw = yaw0 + yaw.at(t);
    s.head_pitch = pitch0 + pitch.at(t);
    s.roll = roll0 + roll.at(t);
    s.dx = dx0 + wx.at(t);
    s.dy = dy0 + wy.at(t);
    s.scale = scale0;
    s.eye_pitch = gp + gdp.at(t);
    s.eye_yaw = gy + gdy.at(t);
    plan.states.push_back(s);
    // The label is where the eyes point in camera space: eye-in-head plus head rotation.
    plan.pitch.push_back(static_cast<float>(s.eye_pitch + s.head_pitch));
    plan.yaw.push_back(static_cast<float>(s.eye_yaw + s.head_yaw));
    plan.intensity.push_back(static_cast<float>(a));
  }
  paint_background(plan, rsc);
  plan_lighting(plan, rsc);
  return plan;
}

cv::Mat render_frame(const ClipPlan& plan, int t) {
  cv::Mat canvas = plan.background.clone();
  paint_face(plan.id, plan.states[static_cast<size_t>(t)], canvas);
  if (plan.blur_sigma > 0) cv::GaussianBlur(canvas, canvas, cv::Size(0, 0), plan.blur_sigma);
  // Light (a static gradient times a global flicker) and sensor noise in one pass. The noise is a
  // window of the clip's noise field at a per-frame offset: fresh-looking noise every frame for
  // the cost of an add.
  const int n = plan.size, pad = plan.noise.rows - n;
  SynthRng rng(plan.noise_seed + static_cast<uint64_t>(t));
  const int ox = static_cast<int>(rng.integer(0, pad)), oy = static_cast<int>(rng.integer(0, pad));
  const float gain = static_cast<float>(plan.flicker[static_cast<size_t>(t)]);
  for (int y = 0; y < n; ++y) {
    uchar* px = canvas.ptr<uchar>(y);
    const float* sh = plan.shading.ptr<float>(y);
    const float* nz = plan.noise.ptr<float>(y + oy) + 3 * ox;
    for (int k = 0; k < 3 * n; ++k) px[k] = cv::saturate_cast<uchar>(px[k] * sh[k] * gain + nz[k]);
  }
  return canvas;
}

}  // namespace dfer::data::detail
