/* faces_only.c — what an embedding program that only finds faces and reads smiles needs: the
 * public header and the core library (libgrin.so), nothing of the video pipeline, training or
 * live window. The suite builds it against the shared library, runs it on a sample photo and
 * counts the shared libraries it loads (tests/test_embed.py).
 *
 *   faces_only PHOTO   -> one line per face: x y w h smile decided, then its 68 landmarks
 *                         (x y each, 3 decimals) */
#include <grin.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: faces_only PHOTO\n");
        return 2;
    }
    grin_error err = {{0}};
    grin_image img;
    if (grin_image_read(argv[1], GRIN_PIX_RGB24, &img, &err) != GRIN_OK) {
        fprintf(stderr, "faces_only: %s\n", err.msg);
        return 1;
    }
    grin_faces_params p;
    grin_faces_params_default(&p);
    grin_face_path *f;
    if (grin_face_path_create(&p, &f, &err) != GRIN_OK) {
        fprintf(stderr, "faces_only: %s\n", err.msg);
        grin_image_free(&img);
        return 1;
    }
    grin_face faces[32];
    size_t n = 0;
    grin_status st = grin_faces(f, &img, faces, 32, &n, &err);
    if (st != GRIN_OK)
        fprintf(stderr, "faces_only: %s\n", err.msg);
    for (size_t i = 0; i < n && i < 32 && st == GRIN_OK; i++)
    {
        printf("%d %d %d %d %.6f %d", faces[i].box.x, faces[i].box.y, faces[i].box.w, faces[i].box.h,
               faces[i].smile, faces[i].decided);
        for (int k = 0; k < faces[i].npoints; k++)
            printf(" %.3f %.3f", faces[i].points[k].x, faces[i].points[k].y);
        printf("\n");
    }
    grin_face_path_free(f);
    grin_image_free(&img);
    return st == GRIN_OK ? 0 : 1;
}
