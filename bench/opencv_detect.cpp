// opencv_detect.cpp — the reference for grin's detector benchmark: OpenCV's C++
// CascadeClassifier::detectMultiScale on one grey frame, timed like `grin bench detect`.
// Build: g++ -O2 opencv_detect.cpp $(pkg-config --cflags --libs opencv4)
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

int main(int argc, char **argv)
{
    std::string image, cascade = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml";
    double scale = 1.1;
    int neighbors = 3, min_size = 30, threads = 1, repeat = 20;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--image") image = argv[i + 1];
        else if (a == "--cascade") cascade = argv[i + 1];
        else if (a == "--scale-factor") scale = atof(argv[i + 1]);
        else if (a == "--min-neighbors") neighbors = atoi(argv[i + 1]);
        else if (a == "--min-size") min_size = atoi(argv[i + 1]);
        else if (a == "--threads") threads = atoi(argv[i + 1]);
        else if (a == "--repeat") repeat = atoi(argv[i + 1]);
    }
    cv::Mat img = cv::imread(image, cv::IMREAD_COLOR);
    cv::CascadeClassifier cc(cascade);
    if (img.empty() || cc.empty()) {
        fprintf(stderr, "opencv_detect: cannot read image or cascade\n");
        return 1;
    }
    cv::Mat gray;
    cv::cvtColor(img, gray, cv::COLOR_BGR2GRAY);
    cv::setNumThreads(threads);
    std::vector<cv::Rect> faces;
    cc.detectMultiScale(gray, faces, scale, neighbors, 0, cv::Size(min_size, min_size));
    std::vector<double> ms;
    for (int r = 0; r < repeat; r++) {
        auto t0 = std::chrono::steady_clock::now();
        cc.detectMultiScale(gray, faces, scale, neighbors, 0, cv::Size(min_size, min_size));
        auto t1 = std::chrono::steady_clock::now();
        ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    printf("{\"bench\":\"opencv_detect\",\"width\":%d,\"height\":%d,\"threads\":%d,\"repeat\":%d,"
           "\"ms_per_frame_min\":%.3f,\"ms_per_frame_median\":%.3f,\"faces\":%zu}\n",
           gray.cols, gray.rows, threads, repeat, ms[0], ms[ms.size() / 2], faces.size());
    return 0;
}
