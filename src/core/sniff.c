/* sniff.c — what a file looks like from its first bytes, so every loader can say "this is a
 * bzip2 archive" or "this is a cascade" instead of a bare parse error. */
#include "internal.h"

#include <string.h>

const char *grin__sniff(const uint8_t *d, size_t n)
{
    if (n >= 3 && d[0] == 'B' && d[1] == 'Z' && d[2] == 'h')
        return "a bzip2 archive (decompress it first)";
    if (n >= 2 && d[0] == 0x1f && d[1] == 0x8b)
        return "a gzip archive (decompress it first)";
    if (n >= 3 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff)
        return "a JPEG image";
    if (n >= 4 && memcmp(d, "\x89PNG", 4) == 0)
        return "a PNG image";
    if (n >= 4 && memcmp(d, "GIF8", 4) == 0)
        return "a GIF image (unsupported)";
    if (n >= 2 && d[0] == 'B' && d[1] == 'M')
        return "a BMP image (unsupported)";
    if (n >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WEBP", 4) == 0)
        return "a WebP image (unsupported)";
    if (n >= 8 && memcmp(d, "GRINLMK\x1a", 8) == 0)
        return "a grin landmark model";
    if (n >= 8 && memcmp(d, "GRINNET\x1a", 8) == 0)
        return "a grin classifier model";
    if (n >= 5 && memcmp(d, "%YAML", 5) == 0)
        return "a YAML file";
    if (n >= 1 && d[0] == '<')
        return "an XML file (a cascade?)";
    return NULL;
}
