// reference_pipeline.cpp — the pipeline the study built, from the tools it used: OpenCV's
// VideoCapture and CascadeClassifier, dlib's shape_predictor, a similarity alignment with
// OpenCV (estimateAffinePartial2D + warpAffine), and OpenCV DNN running the same classifier
// exported to ONNX (grin export --onnx). Sequential per frame (OpenCV's own threads inside the
// detector and DNN). Between detections (every K-th frame) it reuses the last boxes. Prints one
// JSON line: frames, seconds, fps, faces.
//
//   g++ -O3 -march=native -DNDEBUG reference_pipeline.cpp $(pkg-config --cflags --libs opencv4 dlib-1)
//   ./a.out CLIP CASCADE.xml SHAPE_PREDICTOR.dat MODEL.onnx INPUT_SIZE CHANNELS DETECT_EVERY [THREADS [MAX_FRAMES]]
#include <dlib/image_processing.h>
#include <dlib/opencv.h>

#include <opencv2/calib3d.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>
#include <opencv2/videoio.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char **argv)
{
    if (argc < 8) {
        std::fprintf(stderr, "usage: %s CLIP CASCADE SHAPE_PREDICTOR MODEL.onnx SIZE CHANNELS DETECT_EVERY [THREADS]\n",
                     argv[0]);
        return 2;
    }
    const int size = std::atoi(argv[5]), channels = std::atoi(argv[6]), every = std::atoi(argv[7]);
    if (argc > 8)
        cv::setNumThreads(std::atoi(argv[8]));
    const long max_frames = argc > 9 ? std::atol(argv[9]) : 0;
    cv::VideoCapture cap(argv[1]);
    cv::CascadeClassifier cascade;
    if (!cap.isOpened() || !cascade.load(argv[2])) {
        std::fprintf(stderr, "cannot open %s or %s\n", argv[1], argv[2]);
        return 1;
    }
    dlib::shape_predictor sp;
    dlib::deserialize(argv[3]) >> sp;
    cv::dnn::Net net = cv::dnn::readNetFromONNX(argv[4]);
    net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    // a square template: the 68 points of the first face, normalised into the crop
    std::vector<cv::Point2f> tmpl;
    std::vector<cv::Rect> faces;
    cv::Mat frame, gray, crop, blob;
    long n = 0, nfaces = 0;
    double sum = 0;
    auto t0 = std::chrono::steady_clock::now();
    while ((max_frames <= 0 || n < max_frames) && cap.read(frame)) {
        cv::cvtColor(frame, gray, cv::COLOR_BGR2GRAY);
        if (n % every == 0)
            cascade.detectMultiScale(gray, faces, 1.1, 3, 0, cv::Size(30, 30));
        dlib::cv_image<unsigned char> dimg(gray);
        for (const cv::Rect &r : faces) {
            dlib::full_object_detection d =
                sp(dimg, dlib::rectangle(r.x, r.y, r.x + r.width - 1, r.y + r.height - 1));
            std::vector<cv::Point2f> pts;
            for (unsigned k = 0; k < d.num_parts(); k++)
                pts.emplace_back((float)d.part(k).x(), (float)d.part(k).y());
            if (tmpl.empty()) {
                cv::Rect2f b = cv::boundingRect(pts);
                for (const auto &p : pts)
                    tmpl.emplace_back((p.x - b.x) / b.width * size * 0.8f + size * 0.1f,
                                      (p.y - b.y) / b.height * size * 0.8f + size * 0.1f);
            }
            cv::Mat M = cv::estimateAffinePartial2D(pts, tmpl);
            if (M.empty())
                continue;
            cv::warpAffine(channels == 1 ? gray : frame, crop, M, cv::Size(size, size));
            if (channels == 3)
                cv::cvtColor(crop, crop, cv::COLOR_BGR2RGB);
            cv::dnn::blobFromImage(crop, blob, 1.0 / 127.5, cv::Size(), cv::Scalar::all(127.5), false, false);
            net.setInput(blob);
            cv::Mat out = net.forward();
            sum += out.at<float>(0);
            nfaces++;
        }
        n++;
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("{\"frames\":%ld,\"seconds\":%.3f,\"fps\":%.2f,\"faces\":%ld,\"mean_smile\":%.4f}\n", n, s, n / s,
                nfaces, nfaces ? sum / nfaces : 0.0);
    return 0;
}
