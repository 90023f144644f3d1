# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:

    # The shape of the state option every managing module has. What present and absent do
    # differs per module, so each module gives the description; ansible-core merges it in.
    DOCUMENTATION = r'''
options:
  state:
    type: str
    choices: [present, absent]
    default: present
'''
