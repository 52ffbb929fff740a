# Copyright (c) appsnap.velero contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Sphinx configuration of the docs site that docs/build.sh builds.

What ``antsibull-docs sphinx-init`` writes (antsibull-docs 2.28.0), less its intersphinx
mappings: those fetch inventories from docs.python.org, jinja.palletsprojects.com and
docs.ansible.com, which this project's machines cannot reach, and each failed fetch is a
warning (warnings fail the build). The references that the generated pages and the
collection's docs make to pages outside this site are resolved by EXTERNAL_PAGES and
EXTERNAL_PLUGINS below instead, to docs.ansible.com; any other unresolved reference
still fails the build.
"""

from docutils import nodes

project = 'appsnap.velero'
copyright = 'appsnap.velero contributors'  # pylint: disable=redefined-builtin

title = 'appsnap.velero'
html_short_title = 'appsnap.velero'

extensions = ['sphinx_antsibull_ext']

pygments_style = 'ansible'

highlight_language = 'YAML+Jinja'

html_theme = 'sphinx_ansible_theme'
html_show_sphinx = False

display_version = False

html_use_smartypants = True
html_use_modindex = False
html_use_index = False
html_copy_source = False

default_role = 'any'

nitpicky = True

ANSIBLE_DOCS = 'https://docs.ansible.com/projects/ansible/devel/'

# Labels of the Ansible docs that the generated pages use: page and title.
EXTERNAL_PAGES = {
    # "Common return values are documented here" on each module page
    'common_return_values': ('reference_appendices/common_return_values.html', 'Return Values'),
    # the environment variables index
    'ansible_configuration_settings': ('reference_appendices/config.html', 'Ansible Configuration Settings'),
}

# Plugins of other collections that the docs refer to (M(), P(), O() of theirs): FQCN and type.
EXTERNAL_PLUGINS = {
    'ansible.builtin.quote': 'filter',
    'ansible.builtin.set_stats': 'module',
    # in kubernetes.core's k8s_auth_options doc fragment (the username option)
    'community.okd.k8s_auth': 'module',
    'kubernetes.core.k8s': 'module',
    'kubernetes.core.k8s_exec': 'module',
    'kubernetes.core.k8s_info': 'module',
}


def external_url(label):
    """The docs.ansible.com URL and title of LABEL, a label outside this site, or None."""
    if label in EXTERNAL_PAGES:
        page, label_title = EXTERNAL_PAGES[label]
        return ANSIBLE_DOCS + page, label_title
    # antsibull-docs labels: ansible_collections.NS.NAME.PLUGIN_TYPE and, for an option or a
    # return value, __parameter-OPTION or __return-KEY after it (the page's HTML anchor).
    plugin_label, sep, anchor = label.partition('__')
    for fqcn, plugin_type in EXTERNAL_PLUGINS.items():
        if plugin_label == f'ansible_collections.{fqcn}_{plugin_type}':
            namespace, name, plugin = fqcn.split('.')
            url = f'{ANSIBLE_DOCS}collections/{namespace}/{name}/{plugin}_{plugin_type}.html'
            return (url + '#' + anchor if sep else url), fqcn
    return None


def resolve_external(app, env, node, contnode):  # pylint: disable=unused-argument
    """Sphinx's missing-reference event: a :ref: to a label of EXTERNAL_PAGES or EXTERNAL_PLUGINS."""
    if node.get('refdomain') != 'std' or node.get('reftype') != 'ref':
        return None
    found = external_url(node['reftarget'])
    if found is None:
        return None
    url, label_title = found
    reference = nodes.reference('', '', internal=False, refuri=url)
    reference += contnode if node.get('refexplicit') else nodes.inline(label_title, label_title)
    return reference


def setup(app):
    """Register resolve_external."""
    app.connect('missing-reference', resolve_external)
