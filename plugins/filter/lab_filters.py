# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filters the role nslab.net.lab plans with; documented in the .yml file of each name."""


from ansible.errors import AnsibleFilterError

from ansible_collections.nslab.net.plugins.module_utils._common.errors import InvalidInput
from ansible_collections.nslab.net.plugins.module_utils._lab.spec import lab_spec
from ansible_collections.nslab.net.plugins.module_utils._lab.plan import lab_plan
from ansible_collections.nslab.net.plugins.plugin_utils import lab_report


def _checked(function):
    def run(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except InvalidInput as exc:
            raise AnsibleFilterError('the lab is not valid: %s' % '; '.join(exc.problems))
    run.__name__ = function.__name__
    return run


class FilterModule:

    def filters(self):
        return {
            'lab_spec': _checked(lab_spec),
            'lab_plan': _checked(lab_plan),
            'lab_summary': lab_report.lab_summary,
            'lab_diagram': lab_report.lab_diagram,
        }
