from notellm_hf.data.sets.debian import build_debian, debian_notes, depended_on, long_description

PACKAGES = """Package: gimp
Source: gimp (2.10)
Depends: libgegl (>= 0.4), libgtk | libgtk-alt, libc6:any
Description-md5: m1
Tag: role::program, works-with::image,
 interface::x11
Section: graphics

Package: krita
Depends: libgegl, libgtk, libc6
Description-md5: m2
Section: contrib/graphics

Package: gimp-data
Source: gimp
Depends: libgegl, libgtk
Description-md5: m3
Section: graphics

Package: vim
Depends: libc6
Description-md5: m4
Section: editors

Package: nodesc
Depends: libc6
Description-md5: m5
Section: misc
"""

TRANSLATIONS = """Package: gimp
Description-md5: m1
Description-en: GNU Image Manipulation Program
 GIMP edits images.
 .
 It has plug-ins.

Package: krita
Description-md5: m2
Description-en: painting program
 Krita paints.

Package: gimp-data
Description-md5: m3
Description-en: data files for GIMP
 Brushes and palettes.

Package: vim
Description-md5: m4
Description-en: Vi IMproved
 An editor.

Package: nodesc
Description-md5: other
Description-en: description of another version
 Not joined.
"""


def test_fields_are_parsed_and_mapped():
    notes, clicks, sources = debian_notes(PACKAGES, TRANSLATIONS)
    gimp = notes.set_index("note_id").loc["gimp"]
    assert gimp.title == "GNU Image Manipulation Program" and gimp.content == "GIMP edits images. It has plug-ins."
    assert gimp.hashtags == ["role::program", "works-with::image", "interface::x11"]
    assert notes.set_index("note_id").loc["krita"].category == "graphics"  # "contrib/" prefix dropped
    assert "nodesc" not in set(notes.note_id)  # description md5 does not match: no long description
    assert sources["gimp-data"] == "gimp" and sources["gimp"] == "gimp"
    assert set(clicks[clicks.note_id == "gimp"].user_id) == {"libgegl", "libgtk", "libc6"}
    assert notes.exposure.sum() == 0  # nothing depends on these notes


def test_dependency_names_and_descriptions():
    assert depended_on("a (>= 1), b | c, d:any, e [amd64]") == ["a", "b", "d", "e"]
    assert long_description("short\n line one\n .\n line two") == ("short", "line one line two")


def test_pairs_drop_same_source_and_respect_the_split():
    notes, split, train, test, meta = build_debian(PACKAGES, TRANSLATIONS, test_fraction=0.0, lower=0.0)
    pairs = set(zip(train.note_id_a, train.note_id_b, strict=True))
    # libgegl's dependents {gimp, krita, gimp-data}: gimp <-> gimp-data share a source and are dropped.
    assert ("gimp", "krita") in pairs and ("krita", "gimp-data") in pairs
    assert ("gimp", "gimp-data") not in pairs and ("gimp-data", "gimp") not in pairs
    assert meta["relations"]["pairs_between_same_source_packages"] == 2
    assert test.empty and set(split) == {"train"}
