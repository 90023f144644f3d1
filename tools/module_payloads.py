# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which of the collection's files each module's AnsiballZ payload carries.

Usage: python tools/module_payloads.py [COLLECTIONS_PATH]
COLLECTIONS_PATH holds ansible_collections/nslab/net (default: .venv/collections, this
checkout). Prints a Markdown table: per module, how many files of plugins/module_utils its
payload bundles, and which. It asks ansible-core's own dependency finder (the one that
builds payloads), so the answer is what a run sends, not a guess from reading imports.
"""

import datetime
import io
import os
import sys
import zipfile

from ansible.executor import module_common
from ansible.plugins.loader import init_plugin_loader

PREFIX = 'ansible_collections/nslab/net/plugins/module_utils/'


def payload_files(collections, module):
    path = os.path.join(collections, 'ansible_collections', 'nslab', 'net', 'plugins', 'modules', module + '.py')
    with open(path, 'rb') as handle:
        data = handle.read()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as zf:
        kwargs = {}
        if 'extension_manager' in module_common.recursive_finder.__code__.co_varnames:
            from ansible._internal._ansiballz._builder import ExtensionManager  # pylint: disable=import-outside-toplevel
            kwargs['extension_manager'] = ExtensionManager()
        module_common.recursive_finder(module, 'ansible_collections.nslab.net.plugins.modules.' + module, data, zf,
                                       datetime.datetime(2026, 1, 1), **kwargs)
        names = zf.namelist()
        sizes = {info.filename: info.file_size for info in zf.infolist()}
    files = sorted(name for name in names if name.startswith(PREFIX) and not name.endswith('__init__.py'))
    return [name[len(PREFIX):] for name in files], sum(sizes[name] for name in files)


def main():
    collections = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else '.venv/collections')
    init_plugin_loader([collections])
    modules_dir = os.path.join(collections, 'ansible_collections', 'nslab', 'net', 'plugins', 'modules')
    print('| module | files | KiB | module_utils bundled |')
    print('|---|---:|---:|---|')
    for name in sorted(f[:-3] for f in os.listdir(modules_dir) if f.endswith('.py') and f != '__init__.py'):
        files, size = payload_files(collections, name)
        print('| %s | %d | %.0f | %s |' % (name, len(files), size / 1024.0, ', '.join(f[:-3] for f in files)))


if __name__ == '__main__':
    main()
