"""The extension as Slicer builds and indexes it: CMake lists, module file, UI, catalog entry.

Slicer itself does not run here; these checks catch what would otherwise only break a
Slicer build or the in-Slicer test: a file that is not packaged, a listed file that is
gone, a widget name the module uses but the .ui lacks.
"""
import ast
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODULE = REPO / "InteractiveSeg"
MODULE_FILE = MODULE / "InteractiveSeg.py"
UI_FILE = MODULE / "Resources" / "UI" / "InteractiveSeg.ui"

# Under the module folder but not shipped, and why.
NOT_SHIPPED = (
    "CMakeLists.txt",  # the build description itself
    "interactiveseg/samples/",  # data for the command-line demo; Slicer has Sample Data
    "interactiveseg.egg-info/",  # pip's development install
    "interactiveseg_web/",  # browser front end (pip extra 'web'), not part of the Slicer module
    "interactiveseg/training/",  # training: the pip package's, a user of the module never trains
    "interactiveseg/evaluation/",  # robot users, baselines, reports: research, with the pip package
)
NOT_SHIPPED_SUFFIXES = (".md",)  # documentation lives in the repository, not in the installed module


def cmake_list(text: str, variable: str) -> list:
    match = re.search(r"set\(\s*" + variable + r"\s+(.*?)\)", text, re.S)
    assert match, f"set({variable} ...) not found"
    lines = [line.split("#")[0].strip() for line in match.group(1).splitlines()]
    return [line.replace("${MODULE_NAME}", "InteractiveSeg") for line in lines if line]


def shipped_files() -> set:
    files = set()
    for path in MODULE.rglob("*"):
        relative = path.relative_to(MODULE).as_posix()
        if path.is_dir() or "__pycache__" in relative or relative.endswith((".pyc",) + NOT_SHIPPED_SUFFIXES):
            continue
        if any(relative == skip or relative.startswith(skip) for skip in NOT_SHIPPED):
            continue
        files.add(relative)
    return files


def test_every_shipped_file_is_listed_and_every_listed_file_exists():
    text = (MODULE / "CMakeLists.txt").read_text()
    scripts = cmake_list(text, "MODULE_PYTHON_SCRIPTS")
    resources = cmake_list(text, "MODULE_PYTHON_RESOURCES")
    assert all(name.endswith(".py") for name in scripts)
    assert not any(name.endswith(".py") for name in resources)
    listed = set(scripts) | set(resources)
    assert len(listed) == len(scripts) + len(resources), "a file is listed twice"
    missing_from_cmake = shipped_files() - listed
    assert not missing_from_cmake, f"add to InteractiveSeg/CMakeLists.txt: {sorted(missing_from_cmake)}"
    gone = sorted(name for name in listed if not (MODULE / name).is_file())
    assert not gone, f"listed in InteractiveSeg/CMakeLists.txt but missing: {gone}"
    models = [name for name in shipped_files() if name.startswith("interactiveseg/models/")]
    assert all(name in resources for name in models)  # weights and cards are resources, not scripts


def test_module_cmake_builds_the_module_and_registers_its_test():
    text = (MODULE / "CMakeLists.txt").read_text()
    assert "slicerMacroBuildScriptedModule(" in text and "WITH_GENERIC_TESTS" in text
    assert re.search(r"slicer_add_python_unittest\(\s*SCRIPT \$\{MODULE_NAME\}\.py\s*\)", text)


def test_extension_cmake_metadata():
    text = (REPO / "CMakeLists.txt").read_text()
    assert re.search(r"^project\(InteractiveSeg\)", text, re.M)
    for key in ("HOMEPAGE", "CATEGORY", "CONTRIBUTORS", "DESCRIPTION", "ICONURL", "SCREENSHOTURLS"):
        assert re.search(rf'set\(EXTENSION_{key} "[^"]+"\)', text), key
    assert 'set(EXTENSION_DEPENDS "PyTorch")' in text
    assert "add_subdirectory(InteractiveSeg)" in text
    assert "include(${Slicer_EXTENSION_GENERATE_CONFIG})" in text and "include(${Slicer_EXTENSION_CPACK})" in text
    icon_url = re.search(r'set\(EXTENSION_ICONURL "([^"]+)"\)', text).group(1)
    assert (REPO / icon_url.split("/main/", 1)[1]).is_file()


def test_catalog_entry_follows_the_index_rules():
    entry = json.loads((REPO / "Resources" / "ExtensionsIndex" / "InteractiveSeg.json").read_text())
    allowed = {"$schema", "category", "scm_url", "scm_revision", "scm_type", "build_dependencies",
               "build_subdirectory", "enabled", "tier"}  # schema v1.0.1 has no other properties
    assert {"$schema", "category", "scm_url"} <= set(entry) <= allowed
    assert entry["category"] == "Segmentation" and entry["build_dependencies"] == ["PyTorch"]
    assert entry["scm_url"].rstrip("/").split("/")[-1] == "SlicerInteractiveSeg"
    cmake = (REPO / "CMakeLists.txt").read_text()
    assert f'set(EXTENSION_HOMEPAGE "{entry["scm_url"]}")' in cmake


def test_license_is_apache_2():
    text = (REPO / "LICENSE.txt").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text


def module_tree():
    return ast.parse(MODULE_FILE.read_text(), filename=str(MODULE_FILE))


def test_module_file_has_the_classes_slicer_looks_for():
    classes = {node.name: node for node in module_tree().body if isinstance(node, ast.ClassDef)}
    for name in ("InteractiveSeg", "InteractiveSegWidget", "InteractiveSegLogic", "InteractiveSegTest"):
        assert name in classes, name
    test_methods = {f.name for f in classes["InteractiveSegTest"].body if isinstance(f, ast.FunctionDef)}
    assert {"setUp", "runTest"} <= test_methods
    bases = {b.id for b in classes["InteractiveSegTest"].bases if isinstance(b, ast.Name)}
    assert bases == {"ScriptedLoadableModuleTest"}


TORCH_FREE_AT_LOAD = {"interactiveseg.settings"}  # the panel's defaults; checked below to load no torch or numpy


def test_module_loads_without_torch():
    """Slicer loads every module at startup: the engine (torch) may only be imported on use."""
    top_level = set()
    for node in module_tree().body:
        if isinstance(node, ast.Import):
            top_level |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            top_level.add(node.module)
    roots = {name.split(".")[0] for name in top_level - TORCH_FREE_AT_LOAD}
    assert not roots & {"torch", "interactiveseg", "InteractiveSegLib", "numpy"}
    code = ("import sys; " + "; ".join(f"import {name}" for name in sorted(TORCH_FREE_AT_LOAD))
            + "; print(sorted({'torch', 'numpy'} & set(sys.modules)))")
    loaded = subprocess.run([sys.executable, "-c", code], cwd=MODULE, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]", loaded.stdout + loaded.stderr


def ui_widgets() -> dict:
    root = ElementTree.parse(UI_FILE).getroot()
    return {w.get("name"): w for w in root.iter("widget")}


def test_every_widget_the_module_uses_is_in_the_ui():
    used = set(re.findall(r"self\.ui\.(\w+)", MODULE_FILE.read_text()))
    missing = used - set(ui_widgets())
    assert not missing, f"InteractiveSeg.py uses widgets the .ui lacks: {sorted(missing)}"
    assert ui_widgets()["advancedCollapsibleButton"].find("property[@name='collapsed']/bool").text == "true"


def test_the_panel_reads_in_workflow_order():
    """Inputs and box, then Segment, then the scribble tools, then the refining actions."""
    order = [w.get("name") for w in ElementTree.parse(UI_FILE).getroot().iter("widget")]
    steps = ["roiSelector", "segmentButton", "scribblesCollapsibleButton", "refineButton"]
    assert [order.index(name) for name in steps] == sorted(order.index(name) for name in steps)


def test_every_ui_parameter_is_a_field_of_the_parameter_node():
    classes = {node.name: node for node in module_tree().body if isinstance(node, ast.ClassDef)}
    fields = {f.target.id for f in classes["InteractiveSegParameterNode"].body if isinstance(f, ast.AnnAssign)}
    named = {p.find("string").text for p in ElementTree.parse(UI_FILE).getroot().iter("property")
             if p.get("name") == "SlicerParameterName"}
    assert named and named <= fields, sorted(named - fields)


def test_logic_package_is_qt_free():
    """The logic runs outside Slicer's GUI (tests, web front ends): no Qt, no application."""
    forbidden = re.compile(r"^\s*(import|from)\s+(qt|ctk|PythonQt)\b|slicer\.app\b|slicer\.modules\b"
                           r"|slicer\.mrmlScene\b"
                           r"|slicer\.util\.(confirm|errorDisplay|infoDisplay|warningDisplay|delayDisplay|setSliceViewerLayers)",
                           re.M)
    for path in (MODULE / "InteractiveSegLib").glob("*.py"):
        found = forbidden.findall(path.read_text())
        assert not found, f"{path.name} uses {found}"


def test_the_shipped_engine_imports_only_shipped_modules():
    """The extension ships the runtime engine only: no shipped module may need training or evaluation code."""
    text = (MODULE / "CMakeLists.txt").read_text()
    shipped = set(cmake_list(text, "MODULE_PYTHON_SCRIPTS"))  # the module, its Lib and the engine
    modules = {name[:-3].replace("/", ".").removesuffix(".__init__") for name in shipped}
    needed = {}
    for name in sorted(shipped):
        package = name[:-3].replace("/", ".").rsplit(".", 1)[0] if not name.endswith("__init__.py") \
            else name[:-12].replace("/", ".")
        for node in ast.walk(ast.parse((MODULE / name).read_text())):  # imports inside functions count too
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                targets = [f"{base}.{node.module}" if node.module else base]
                if not node.module:  # `from . import x`: a submodule, or a name the package itself defines
                    targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("interactiveseg."):
                targets = [node.module]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.startswith("interactiveseg.")]
            else:
                continue
            for target in targets:
                if target.split(".")[0] == "interactiveseg" and target not in modules:
                    needed.setdefault(name, []).append(target)
    assert not needed, f"shipped modules import what the extension does not ship: {needed}"


def test_the_minimum_slicer_is_the_same_in_the_module_the_extension_description_and_the_readme():
    module = re.search(r"MINIMUM_SLICER = \((\d+), (\d+)\)", MODULE_FILE.read_text(encoding="utf-8"))
    version = f"{module.group(1)}.{module.group(2)}"
    assert f"Needs Slicer {version} or later" in (REPO / "CMakeLists.txt").read_text(encoding="utf-8")
    assert f"In Slicer ({version} or later" in (REPO / "README.md").read_text(encoding="utf-8")
