# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:

    # Every module that changes the host predicts in check mode and shows a diff. Each module
    # still describes in its own attributes what it reports and shows: ansible-core merges
    # the module's keys over these, attribute by attribute.
    DOCUMENTATION = r'''
options: {}
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
'''

    # Check mode of a module whose objects live in namespaces that an earlier task of the
    # same play may only be about to create.
    CHECK_MODE_MISSING_NAMESPACE = r'''
options: {}
attributes:
  check_mode:
    support: full
    description: >-
      Reports exactly what a real run would change, changing nothing. A namespace missing in
      check mode is taken as one an earlier task of the play would create.
'''
