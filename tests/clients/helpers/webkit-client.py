#!/usr/bin/python3
"""webkit-client.py PAGE: a WebKitGTK application as its developers write
one: a WebView in a window, the sandbox enabled on its WebContext, loads
PAGE (a file) and evaluates JavaScript in it.  While the page is still
loaded it records, for every WebKitWebProcess below this process, argv[0]
of each process between us and it.  Prints one JSON object."""
import json
import os
import sys

import gi

gi.require_version('Gtk', '3.0')
gi.require_version('WebKit2', '4.1')
from gi.repository import GLib, Gtk, WebKit2  # noqa: E402

result = {}


def children():
    """ppid -> [(pid, argv0, comm)] for every process we can see."""
    kids = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/stat') as f:
                stat = f.read()
            with open(f'/proc/{entry}/cmdline', 'rb') as f:
                argv0 = f.read().split(b'\0')[0].decode(errors='replace')
        except OSError:
            continue
        comm, rest = stat.split('(', 1)[1].rsplit(')', 1)
        ppid = int(rest.split()[1])
        kids.setdefault(ppid, []).append((int(entry), argv0, comm))
    return kids


def web_process_chains():
    kids = children()
    chains = []

    def walk(pid, chain):
        for child, argv0, comm in kids.get(pid, []):
            here = chain + [argv0]
            if comm.startswith('WebKitWebProc'):
                chains.append(here)
            walk(child, here)

    walk(os.getpid(), [])
    return chains


def on_js(view, res):
    try:
        result['js'] = view.evaluate_javascript_finish(res).to_string()
    except GLib.Error as e:
        result['js_error'] = e.message
    result['web_processes'] = web_process_chains()
    Gtk.main_quit()


def on_load(view, event):
    if event == WebKit2.LoadEvent.FINISHED:
        view.evaluate_javascript("document.title + ' ' + (6 * 7)", -1,
                                 None, None, None, on_js)


def on_failed(view, event, uri, error):
    result['load_error'] = error.message
    Gtk.main_quit()
    return True


def on_terminated(view, reason):
    result['web_process_terminated'] = int(reason)
    Gtk.main_quit()


def on_timeout():
    result['timeout'] = True
    Gtk.main_quit()
    return False


def main():
    page = sys.argv[1]
    context = WebKit2.WebContext.new()
    context.set_sandbox_enabled(True)
    result['sandbox_enabled'] = context.get_sandbox_enabled()
    view = WebKit2.WebView.new_with_context(context)
    view.connect('load-changed', on_load)
    view.connect('load-failed', on_failed)
    view.connect('web-process-terminated', on_terminated)
    window = Gtk.Window()
    window.add(view)
    window.show_all()
    GLib.timeout_add_seconds(int(os.environ.get('CLIENT_TIMEOUT', '60')), on_timeout)
    view.load_uri(GLib.filename_to_uri(page))
    Gtk.main()
    print(json.dumps(result))


main()
