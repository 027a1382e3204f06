#!/usr/bin/python3
"""thumbnail.py PNG: writes a 300x200 PNG to PNG, then does what a file
manager does for it: GnomeDesktopThumbnailFactory generates the thumbnail
(gnome-desktop runs the thumbnailer, gdk-pixbuf-thumbnailer, through bwrap)
and saves it in the thumbnail cache.  Prints one JSON object."""
import json
import os
import sys

import gi

gi.require_version('GnomeDesktop', '3.0')
gi.require_version('GdkPixbuf', '2.0')
from gi.repository import GdkPixbuf, Gio, GLib, GnomeDesktop  # noqa: E402


def main():
    png = sys.argv[1]
    image = GdkPixbuf.Pixbuf.new(GdkPixbuf.Colorspace.RGB, False, 8, 300, 200)
    image.fill(0x3366ccff)
    image.savev(png, 'png', [], [])
    uri = Gio.File.new_for_path(png).get_uri()
    mtime = int(os.stat(png).st_mtime)
    size = GnomeDesktop.DesktopThumbnailSize.NORMAL
    factory = GnomeDesktop.DesktopThumbnailFactory.new(size)
    result = {'can_thumbnail': factory.can_thumbnail(uri, 'image/png', mtime)}
    try:
        thumb = factory.generate_thumbnail(uri, 'image/png')
    except GLib.Error as e:
        result['error'] = e.message
        thumb = None
    if thumb is not None:
        factory.save_thumbnail(thumb, uri, mtime)
        result['path'] = GnomeDesktop.desktop_thumbnail_path_for_uri(uri, size)
        saved = GdkPixbuf.Pixbuf.new_from_file(result['path'])
        result['size'] = [saved.get_width(), saved.get_height()]
        result['thumb_uri'] = saved.get_option('tEXt::Thumb::URI')
    print(json.dumps(result))


main()
