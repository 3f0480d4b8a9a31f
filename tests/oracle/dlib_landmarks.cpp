// dlib_landmarks.cpp — test oracle and benchmark reference for grin's landmark regressor: dlib's
// own shape_predictor (libdlib-dev headers, compiled into this program), run on the same pixels
// (grey PGM, or colour PPM read into dlib's rgb_pixel, whose intensity dlib takes as
// (R + G + B) / 3) and face boxes as grin. For each face it prints dlib's landmarks (rounded to integer
// pixels, as full_object_detection stores them) and the unrounded positions computed with dlib's
// own deserialised model and impl:: functions, the same steps shape_predictor::operator() takes.
//
// stdin: lines "IMAGE.pgm|IMAGE.ppm x y w h" (box as x, y, width, height; dlib rect = x..x+w-1, y..y+h-1)
// stdout: one JSON line per face. Options: --model FILE, --repeat N (timing only).
#include <dlib/image_processing.h>
#include <dlib/serialize.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

using namespace dlib;

// a binary PGM (P5) into grey, or PPM (P6) into rgb; the other array is emptied
static bool read_pnm(const std::string &path, array2d<unsigned char> &grey, array2d<rgb_pixel> &rgb)
{
    std::ifstream f(path, std::ios::binary);
    std::string magic;
    long w, h, maxv;
    if (!(f >> magic >> w >> h >> maxv) || (magic != "P5" && magic != "P6") || maxv != 255)
        return false;
    f.get();
    grey.clear();
    rgb.clear();
    std::vector<unsigned char> row(magic == "P6" ? 3 * w : w);
    (magic == "P6" ? rgb.set_size(h, w) : grey.set_size(h, w));
    for (long y = 0; y < h; y++) {
        f.read(reinterpret_cast<char *>(row.data()), (std::streamsize)row.size());
        for (long x = 0; x < w; x++)
            if (magic == "P6")
                rgb[y][x] = rgb_pixel(row[3 * x], row[3 * x + 1], row[3 * x + 2]);
            else
                grey[y][x] = row[x];
    }
    return bool(f);
}

struct model {
    matrix<float, 0, 1> initial_shape;
    std::vector<std::vector<impl::regression_tree>> forests;
    std::vector<std::vector<unsigned long>> anchor_idx;
    std::vector<std::vector<dlib::vector<float, 2>>> deltas;
};

static void load_model(const std::string &path, model &m)
{
    std::ifstream in(path, std::ios::binary);
    int version = 0;
    deserialize(version, in);
    deserialize(m.initial_shape, in);
    deserialize(m.forests, in);
    deserialize(m.anchor_idx, in);
    deserialize(m.deltas, in);
}

// shape_predictor::operator() without the final rounding to integer points
template <typename image>
static std::vector<dlib::vector<double, 2>> unrounded(const model &m, const image &img, const rectangle &rect)
{
    matrix<float, 0, 1> current_shape = m.initial_shape;
    std::vector<float> fpv;
    for (unsigned long iter = 0; iter < m.forests.size(); ++iter) {
        impl::extract_feature_pixel_values(img, rect, current_shape, m.initial_shape, m.anchor_idx[iter],
                                           m.deltas[iter], fpv);
        unsigned long leaf_idx;
        for (unsigned long i = 0; i < m.forests[iter].size(); ++i)
            current_shape += m.forests[iter][i](fpv, leaf_idx);
    }
    const point_transform_affine tform_to_img = impl::unnormalizing_tform(rect);
    std::vector<dlib::vector<double, 2>> out(current_shape.size() / 2);
    for (unsigned long i = 0; i < out.size(); ++i)
        out[i] = tform_to_img(impl::location(current_shape, i));
    return out;
}

int main(int argc, char **argv)
{
    std::string model_path = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat";
    int repeat = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--model") model_path = argv[i + 1];
        else if (a == "--repeat") repeat = atoi(argv[i + 1]);
    }
    auto t0 = std::chrono::steady_clock::now();
    shape_predictor sp;
    deserialize(model_path) >> sp;
    auto t1 = std::chrono::steady_clock::now();
    model m;
    load_model(model_path, m);
    fprintf(stderr, "dlib: model loaded in %.1f ms\n",
            std::chrono::duration<double, std::milli>(t1 - t0).count());
    std::string line, cur_path;
    array2d<unsigned char> grey;
    array2d<rgb_pixel> rgb;
    std::vector<double> times;
    while (std::getline(std::cin, line)) {
        std::istringstream ls(line);
        std::string path;
        long x, y, w, h;
        if (!(ls >> path >> x >> y >> w >> h))
            continue;
        if (path != cur_path) {
            if (!read_pnm(path, grey, rgb)) {
                fprintf(stderr, "cannot read %s\n", path.c_str());
                return 1;
            }
            cur_path = path;
        }
        rectangle rect(x, y, x + w - 1, y + h - 1);
        bool colour = rgb.size() > 0;
        full_object_detection det = colour ? sp(rgb, rect) : sp(grey, rect);
        for (int r = 0; r < repeat; r++) {
            auto a = std::chrono::steady_clock::now();
            det = colour ? sp(rgb, rect) : sp(grey, rect);
            auto b = std::chrono::steady_clock::now();
            times.push_back(std::chrono::duration<double, std::milli>(b - a).count());
        }
        auto exact = colour ? unrounded(m, rgb, rect) : unrounded(m, grey, rect);
        printf("{\"image\":\"%s\",\"box\":[%ld,%ld,%ld,%ld],\"points\":[", path.c_str(), x, y, w, h);
        for (unsigned long i = 0; i < det.num_parts(); i++)
            printf("%s[%ld,%ld]", i ? "," : "", det.part(i).x(), det.part(i).y());
        printf("],\"exact\":[");
        for (unsigned long i = 0; i < exact.size(); i++)
            printf("%s[%.6f,%.6f]", i ? "," : "", exact[i].x(), exact[i].y());
        printf("]}\n");
    }
    if (!times.empty()) {
        std::sort(times.begin(), times.end());
        fprintf(stderr, "{\"bench\":\"dlib_landmarks\",\"faces\":%zu,\"ms_per_face_min\":%.4f,"
                "\"ms_per_face_median\":%.4f}\n", times.size(), times[0], times[times.size() / 2]);
    }
    return 0;
}
