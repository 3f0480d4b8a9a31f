/* test_cascade.c — loading OpenCV cascades in both XML formats, and refusing malformed or
 * hostile ones with a one-line message that names the file and the fault. */
#include "test_util.h"

static char *tiny;
static size_t tiny_len;

static int setup(void **state)
{
    (void)state;
    tiny = slurp(SRC("tests/fixtures/tiny_haar.xml"), &tiny_len);
    return tiny ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    free(tiny);
    return 0;
}

static void test_tiny_loads(void **state)
{
    (void)state;
    grin_cascade *c = NULL;
    grin_error err;
    assert_int_equal(grin_cascade_load_memory(tiny, tiny_len, "tiny", &c, &err), GRIN_OK);
    grin_cascade_info info;
    grin_cascade_get_info(c, &info);
    assert_int_equal(info.feature_type, GRIN_FEATURE_HAAR);
    assert_int_equal(info.window_width, 8);
    assert_int_equal(info.stages, 2);
    assert_int_equal(info.weak_classifiers, 3);
    assert_int_equal(info.features, 2);
    assert_int_equal(info.max_tree_nodes, 1);
    assert_false(info.old_format);
    grin_cascade_free(c);
}

static void test_debian_cascades(void **state)
{
    (void)state;
    struct {
        const char *file;
        grin_feature_type type;
        int w, h, stages, max_nodes, tilted, old;
    } want[] = {
        {"haarcascades/haarcascade_frontalface_default.xml", GRIN_FEATURE_HAAR, 24, 24, 25, 1, 0, 0},
        {"haarcascades/haarcascade_frontalface_alt2.xml", GRIN_FEATURE_HAAR, 20, 20, 20, 2, 0, 0},
        {"lbpcascades/lbpcascade_frontalface_improved.xml", GRIN_FEATURE_LBP, 45, 45, 19, 1, 0, 0},
        {"haarcascades/haarcascade_smile.xml", GRIN_FEATURE_HAAR, 36, 18, 20, 1, 1, 0},
        {"haarcascades/haarcascade_licence_plate_rus_16stages.xml", GRIN_FEATURE_HAAR, 64, 16, 16, 1, 0, 1},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, CASCADE_DIR "%s", want[i].file);
        grin_cascade *c = NULL;
        grin_error err;
        grin_status st = grin_cascade_load(path, &c, &err);
        if (st != GRIN_OK)
            fail_msg("%s: %s", path, err.msg);
        grin_cascade_info info;
        grin_cascade_get_info(c, &info);
        assert_int_equal(info.feature_type, want[i].type);
        assert_int_equal(info.window_width, want[i].w);
        assert_int_equal(info.window_height, want[i].h);
        assert_int_equal(info.stages, want[i].stages);
        assert_int_equal(info.max_tree_nodes, want[i].max_nodes);
        assert_int_equal(info.has_tilted, want[i].tilted);
        assert_int_equal(info.old_format, want[i].old);
        grin_cascade_free(c);
    }
}

static void expect_bad(const char *xml, size_t n, grin_status want, const char *needle)
{
    grin_cascade *c = (grin_cascade *)0x1;
    grin_error err = {{0}};
    grin_status st = grin_cascade_load_memory(xml, n, "hostile.xml", &c, &err);
    if (st != want)
        fail_msg("status %s, wanted %s; message: %s", grin_status_str(st), grin_status_str(want), err.msg);
    assert_null(c);
    assert_non_null(strstr(err.msg, "hostile.xml"));
    if (needle && !strstr(err.msg, needle))
        fail_msg("message '%s' lacks '%s'", err.msg, needle);
    assert_null(strchr(err.msg, '\n'));
}

static void mutate(const char *from, const char *to, grin_status want, const char *needle)
{
    char *x = replace1(tiny, from, to);
    expect_bad(x, strlen(x), want, needle);
    free(x);
}

static void test_hostile_cascades(void **state)
{
    (void)state;
    mutate("<maxWeakCount>1</maxWeakCount>", "<maxWeakCount>5</maxWeakCount>", GRIN_ERR_FORMAT, "maxWeakCount");
    mutate("0 0 8 4 -1.", "0 0 9 4 -1.", GRIN_ERR_FORMAT, "outside the 8x8 window");
    mutate("0 0 8 4 -1.", "-3 0 2 4 -1.", GRIN_ERR_FORMAT, "outside");
    mutate("0 0 8 4 -1.", "0 0 8 4", GRIN_ERR_FORMAT, "x y width height weight");
    mutate("0 -1 1 -0.02", "0 -1 7 -0.02", GRIN_ERR_FORMAT, "feature 7");
    mutate("0 -1 1 -0.02", "0 -1 -4 -0.02", GRIN_ERR_FORMAT, "feature index");
    mutate("0 -1 0 0.01", "0 5 0 0.01", GRIN_ERR_FORMAT, "child index");
    mutate("0 -1 0 0.01", "0 0 0 0.01 -1 -2 0 0.5", GRIN_ERR_FORMAT, "leaves");
    mutate("0 -1 0 0.01", "0 -1 0 1e999", GRIN_ERR_FORMAT, "malformed");
    mutate("0 -1 0 0.01", "0 -1 99999999999 0.01", GRIN_ERR_FORMAT, "malformed");
    mutate("0 -1 0 0.01", "0 -1 0 0.01 7", GRIN_ERR_FORMAT, "multiple");
    mutate("<leafValues>-1.0 1.0</leafValues>", "<leafValues>-1.0</leafValues>", GRIN_ERR_FORMAT, "leaves");
    mutate("<leafValues>-1.0 1.0</leafValues>", "<leafValues>-1.0 nan</leafValues>", GRIN_ERR_FORMAT, "leaf");
    mutate("<height>8</height>", "<height>100000</height>", GRIN_ERR_FORMAT, "window size");
    mutate("<height>8</height>", "<height>-8</height>", GRIN_ERR_FORMAT, "window size");
    mutate("<stageThreshold>-0.5</stageThreshold>", "", GRIN_ERR_FORMAT, "stageThreshold");
    mutate("<featureType>HAAR</featureType>", "<featureType>HOG</featureType>", GRIN_ERR_UNSUPPORTED, "HOG");
    mutate("<featureType>HAAR</featureType>", "<featureType>LBX</featureType>", GRIN_ERR_FORMAT, "featureType");
    mutate("<stageType>BOOST</stageType>", "<stageType>RF</stageType>", GRIN_ERR_UNSUPPORTED, "BOOST");
    mutate("<maxCatCount>0</maxCatCount>", "<maxCatCount>256</maxCatCount>", GRIN_ERR_FORMAT, "maxCatCount");
    mutate("<?xml version=\"1.0\"?>", "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaaaaaa\">]>",
           GRIN_ERR_FORMAT, "DTD");
    mutate("<features>", "<nofeatures>", GRIN_ERR_FORMAT, NULL);

    expect_bad(tiny, tiny_len / 2, GRIN_ERR_FORMAT, "not well-formed");
    expect_bad("", 0, GRIN_ERR_FORMAT, "empty");
    expect_bad("BZh91AY&SY", 10, GRIN_ERR_FORMAT, "bzip2");
    expect_bad("\x1f\x8b\x08", 3, GRIN_ERR_FORMAT, "gzip");
    expect_bad("\x89PNG\r\n\x1a\n", 8, GRIN_ERR_FORMAT, "PNG");
    expect_bad("hello", 5, GRIN_ERR_FORMAT, "not well-formed");
    expect_bad("<foo/>", 6, GRIN_ERR_FORMAT, "root element");
    const char *nocascade = "<opencv_storage><x/></opencv_storage>";
    expect_bad(nocascade, strlen(nocascade), GRIN_ERR_FORMAT, "holds no cascade");
    const char *nostages = "<opencv_storage><c><stageType>BOOST</stageType><featureType>HAAR</featureType>"
                           "<width>4</width><height>4</height><featureParams><maxCatCount>0</maxCatCount>"
                           "</featureParams><stages></stages></c></opencv_storage>";
    expect_bad(nostages, strlen(nostages), GRIN_ERR_FORMAT, "stages");

    /* old format: a node without threshold, a bad child index */
    const char *old = "<opencv_storage><o type_id=\"opencv-haar-classifier\"><size>4 4</size><stages><_><trees><_><_>"
                      "<feature><rects><_>0 0 4 4 -1.</_><_>0 0 2 4 2.</_></rects><tilted>0</tilted></feature>"
                      "<threshold>0.1</threshold><left_val>1</left_val><right_node>3</right_node></_></_></trees>"
                      "<stage_threshold>0</stage_threshold></_></stages></o></opencv_storage>";
    expect_bad(old, strlen(old), GRIN_ERR_FORMAT, "right_node");
    char *old_ok = replace1(old, "<right_node>3</right_node>", "<right_val>-1</right_val>");
    grin_cascade *c = NULL;
    grin_error err;
    assert_int_equal(grin_cascade_load_memory(old_ok, strlen(old_ok), "old", &c, &err), GRIN_OK);
    grin_cascade_free(c);
    free(old_ok);

    grin_status st = grin_cascade_load("/no/such/cascade.xml", &c, &err);
    assert_int_equal(st, GRIN_ERR_IO);
    assert_non_null(strstr(err.msg, "/no/such/cascade.xml"));
    assert_int_equal(grin_cascade_load(SRC("data/samples/2008_001009.jpg"), &c, &err), GRIN_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "JPEG"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_loads),
        cmocka_unit_test(test_debian_cascades),
        cmocka_unit_test(test_hostile_cascades),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
