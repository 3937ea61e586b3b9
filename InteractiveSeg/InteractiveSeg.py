"""InteractiveSeg module: box -> CNN segmentation -> scribbles -> image-specific fine-tuning (BIFSeg).

This file is the Slicer skin only. Scene work is in InteractiveSegLib (Qt-free, tested on a
plain MRML scene); the computation is the `interactiveseg` engine. Neither is imported at
module load, because both need torch, which is installed on first use; only the engine's
torch-free settings are (the panel's defaults are the engine's).
"""
import contextlib
import logging
import os
import sys
from typing import Annotated

import ctk
import qt
import vtk

import slicer
from slicer import vtkMRMLMarkupsROINode, vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (ScriptedLoadableModule, ScriptedLoadableModuleLogic,
                                           ScriptedLoadableModuleTest, ScriptedLoadableModuleWidget)
from slicer.util import VTKObservationMixin

from interactiveseg.settings import Settings  # dataclasses only: no torch, no numpy

MINIMUM_SLICER = (5, 10)  # 5.8 bundles Python 3.9; the engine needs 3.10 or later
POLL_MILLISECONDS = 50  # how often the GUI reads what the engine worker sent (never blocks)
# The module's own keys (listed in the help); Ctrl+Shift keeps them clear of Slicer's single-key view shortcuts.
SHORTCUTS = (("Ctrl+Shift+F", "foreground"), ("Ctrl+Shift+B", "background"), ("Ctrl+Shift+R", "refine"))


class InteractiveSeg(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("InteractiveSeg")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Segmentation")]
        self.parent.dependencies = ["Markups", "Segmentations", "SegmentEditor"]
        self.parent.contributors = ["InteractiveSeg contributors"]
        self.parent.helpText = _("""
Draw a box around an object and press <b>Segment</b>: a CNN segments it. Paint
<b>foreground</b> scribbles where it missed the object and <b>background</b> scribbles where it
spilled over, then press <b>Refine</b>: the network is fine-tuned on this image and segments
again. <b>Undo round</b> takes back a round (Ctrl+Z in the views takes back a stroke);
<b>Accept</b> keeps the result, <b>Cancel</b> stops a running round and <b>Discard all rounds</b>
puts the segment back as it was before the first. Only the box region of the
chosen segment is ever changed. Method: BIFSeg, Wang et al., IEEE TMI 2018.
<p>Keyboard, while the module is shown: <b>Ctrl+Shift+F</b> foreground scribble, <b>Ctrl+Shift+B</b>
background scribble, <b>Ctrl+Shift+R</b> refine; the Segment Editor's own keys (Escape, Space, the
effect numbers, Ctrl+Z for a stroke) work on the scribbles.</p>
""")
        self.parent.acknowledgementText = _("""
Based on "Interactive Medical Image Segmentation Using Deep Learning With Image-Specific
Fine Tuning", G. Wang et al., IEEE Transactions on Medical Imaging 37(7), 2018.
""")


_DEFAULTS = Settings()  # the engine's defaults; a model's card overrides them when custom settings are switched on
# Settings field -> parameter node attribute, for the settings the panel shows (Settings.PANEL_FIELDS).
PANEL_SETTINGS = dict(zip(Settings.PANEL_FIELDS, ("iterations", "omega", "t0", "t1", "learningRate")))


@parameterNodeWrapper
class InteractiveSegParameterNode:
    """Everything the panel shows, saved with the scene."""
    sourceVolume: vtkMRMLScalarVolumeNode
    roi: vtkMRMLMarkupsROINode
    outputSegmentation: vtkMRMLSegmentationNode
    segmentId: str = ""  # "" : a new segment is added
    scribbles: vtkMRMLSegmentationNode
    modelPath: str = ""  # "" : the default model shipped with the extension
    device: Annotated[str, Choice(["auto", "cpu", "cuda", "mps"])] = "auto"
    showUncertainty: bool = False
    customSettings: bool = False
    iterations: Annotated[int, WithinRange(1, 500)] = _DEFAULTS.iterations
    omega: Annotated[float, WithinRange(0.1, 100.0)] = _DEFAULTS.omega
    t0: Annotated[float, WithinRange(0.0, 1.0)] = _DEFAULTS.t0
    t1: Annotated[float, WithinRange(0.0, 1.0)] = _DEFAULTS.t1
    learningRate: Annotated[float, WithinRange(1e-5, 1.0)] = _DEFAULTS.learning_rate
    engineAddress: str = ""  # "": a worker on this computer; HOST:PORT: a remote one (its token is never saved)


class InteractiveSegWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._runner = None  # InteractiveSegLib.round_runner.RoundRunner, made with the logic
        self._foregroundBefore = None  # the slice views' foreground layers before the uncertainty overlay
        self._shortcuts = []
        self._observedBox = None  # the ROI whose placement enables Segment
        self._followSegmentSelector = True  # off while undo removes segments: the selector jumps to another one

    # Setup ---------------------------------------------------------------------------

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        if (slicer.app.majorVersion, slicer.app.minorVersion) < MINIMUM_SLICER or sys.version_info < (3, 10):
            self.layout.addWidget(qt.QLabel(_(
                "InteractiveSeg needs 3D Slicer {major}.{minor} or later (Python 3.10 or later); this is Slicer "
                "{version}. Please install a newer Slicer.").format(major=MINIMUM_SLICER[0], minor=MINIMUM_SLICER[1],
                                                                   version=slicer.app.applicationVersion)))
            return
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/InteractiveSeg.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = InteractiveSegLogic()
        self.ui.modelPathLineEdit.filters = ctk.ctkPathLineEdit.Files | ctk.ctkPathLineEdit.Readable
        self._setupScribbleEditor()
        self._setupBoxPlacement()
        # One set of stroke controls: the buttons follow the editor, whatever chose its effect or segment.
        self.addObserver(self._editorNode, vtk.vtkCommand.ModifiedEvent, self.onScribbleEditorChanged)

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.ui.modelPathLineEdit.connect("currentPathChanged(QString)", self.onModelPathChanged)
        self.ui.segmentSelector.connect("currentSegmentChanged(QString)", self.onSegmentChanged)
        self.ui.foregroundButton.connect("clicked()", lambda: self.onScribbleTool("foreground"))
        self.ui.backgroundButton.connect("clicked()", lambda: self.onScribbleTool("background"))
        self.ui.eraseButton.connect("clicked()", lambda: self.onScribbleTool("erase"))
        self.ui.clearScribblesButton.connect("clicked()", self.onClearScribbles)
        self.ui.segmentButton.connect("clicked()", self.onSegment)
        self.ui.refineButton.connect("clicked()", self.onRefine)
        self.ui.undoButton.connect("clicked()", self.onUndo)
        self.ui.acceptButton.connect("clicked()", self.onAccept)
        self.ui.cancelButton.connect("clicked()", self.onCancel)
        self.ui.discardButton.connect("clicked()", self.onDiscard)
        self.ui.exportLabelmapButton.connect("clicked()", self.onExportLabelmap)
        self.ui.showUncertaintyCheckBox.connect("toggled(bool)", self.onShowUncertainty)
        # clicked, not toggled: only the user's click, not a scene load restoring the box, fills in defaults
        self.ui.customSettingsCheckBox.connect("clicked(bool)", self.onCustomSettings)
        self.ui.jumpToUncertainButton.connect("clicked()", self.onJumpToUncertain)

        self._timer = qt.QTimer()
        self._timer.setInterval(POLL_MILLISECONDS)
        self._timer.connect("timeout()", self.onPoll)
        self.initializeParameterNode()

    def _setupScribbleEditor(self) -> None:
        """A Segment Editor limited to Paint and Erase, working on the scribble segmentation only."""
        self._editorNode = slicer.mrmlScene.GetSingletonNode("InteractiveSeg", "vtkMRMLSegmentEditorNode")
        if self._editorNode is None:
            self._editorNode = slicer.vtkMRMLSegmentEditorNode()
            self._editorNode.SetSingletonTag("InteractiveSeg")
            slicer.mrmlScene.AddNode(self._editorNode)
        self._configureEditorNode()
        editor = slicer.qMRMLSegmentEditorWidget()
        editor.setMRMLScene(slicer.mrmlScene)
        editor.setMRMLSegmentEditorNode(self._editorNode)
        editor.setEffectNameOrder(["Paint", "Erase"])
        editor.unorderedEffectsVisible = False
        editor.segmentationNodeSelectorVisible = False
        editor.sourceVolumeNodeSelectorVisible = False
        editor.switchToSegmentationsButtonVisible = False
        editor.addRemoveSegmentButtonsVisible = False
        editor.maskingSectionVisible = False
        editor.specifyGeometryButtonVisible = False
        # One set of stroke controls: the panel's buttons choose the effect and the kind of stroke, so the
        # editor keeps only the brush options and the stroke Undo/Redo (names from qMRMLSegmentEditorWidget.ui).
        for name in ("EffectsGroupBox", "SegmentsTableView"):
            try:
                slicer.util.findChild(editor, name).hide()
            except RuntimeError:  # another Slicer's layout: both sets stay, and they stay in sync
                logging.warning("InteractiveSeg: the Segment Editor has no %s to hide", name)
        self.ui.segmentEditorFrame.layout().addWidget(editor)
        self.scribbleEditor = editor

    def _setupBoxPlacement(self) -> None:
        """Slicer's own markups place widget, on the panel's one box: Place, then Delete to place it again."""
        place = slicer.qSlicerMarkupsPlaceWidget()
        place.setMRMLScene(slicer.mrmlScene)
        place.placeMultipleMarkups = slicer.qSlicerMarkupsPlaceWidget.ForcePlaceSingleMarkup
        place.buttonsVisible = False
        place.placeButton().show()
        place.deleteButton().show()
        self.ui.boxPlaceFrame.layout().addWidget(place)
        self.ui.roiSelector.connect("currentNodeChanged(vtkMRMLNode*)", place.setCurrentNode)
        self.boxPlaceWidget = place

    def cleanup(self) -> None:
        if self.logic is None:  # an unsupported Slicer: setup only showed the message
            return
        if self._runner is not None and self._runner.busy:
            self._runner.cancel()
        self._timer.stop()
        self.logic.resetInteraction()  # ends the engine worker
        self.removeObservers()

    def enter(self) -> None:
        if self.logic is None:
            return
        self.initializeParameterNode()
        self.scribbleEditor.setupViewObservations()
        self.scribbleEditor.installKeyboardShortcuts()
        for keys, action in SHORTCUTS:
            shortcut = qt.QShortcut(qt.QKeySequence(keys), slicer.util.mainWindow())
            shortcut.connect("activated()", lambda action=action: self.onShortcut(action))
            self._shortcuts.append(shortcut)

    def exit(self) -> None:
        if self.logic is None:
            return
        self.scribbleEditor.setActiveEffect(None)
        self.scribbleEditor.uninstallKeyboardShortcuts()
        self.scribbleEditor.removeViewObservations()
        for shortcut in self._shortcuts:
            shortcut.disconnect("activated()")
            shortcut.setParent(None)
        self._shortcuts = []
        self._disconnectParameterNode()

    def onShortcut(self, action: str) -> None:
        if action == "refine":
            if self.ui.refineButton.enabled:
                self.onRefine()
            return
        button = self._scribbleButtons()[action]
        button.checked = not button.checked  # as a click would
        self.onScribbleTool(action)

    def _configureEditorNode(self) -> None:
        """The scribble editor's own settings. A scene close resets the (singleton) editor node, so they are
        set again after every close."""
        # Foreground and background never overlap: painting one erases the other.
        self._editorNode.SetOverwriteMode(slicer.vtkMRMLSegmentEditorNode.OverwriteAllSegments)
        # Erase, from the panel or the editor's own button, takes both kinds of stroke (the effect's parameter
        # "EraseAllSegments", stored on the editor node as "<effect>.<parameter>"; its default is 0).
        self._editorNode.SetAttribute("Erase.EraseAllSegments", "1")

    def onSceneStartClose(self, caller, event) -> None:
        if self._busy:
            self._runner.drop()  # its worker ends with the scene: no "worker is not running" afterwards
        self._disconnectParameterNode()
        self._parameterNode = None
        self.logic.resetInteraction()
        # The next scene reuses node IDs: what was recorded of this one must not be applied to it.
        self._foregroundBefore = None
        self._observeBox()  # no parameter node now: stops following the closed scene's box

    def onSceneEndClose(self, caller, event) -> None:
        self._configureEditorNode()
        if self.parent.isEntered:
            self.initializeParameterNode()

    # Parameter node ------------------------------------------------------------------

    def initializeParameterNode(self) -> None:
        self._disconnectParameterNode()
        self._parameterNode = self.logic.getParameterNode()
        if not self._parameterNode.sourceVolume:
            self._parameterNode.sourceVolume = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
        self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
        self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.onParameterNodeModified)
        self._ensureBox()
        self._observeBox()
        self.boxPlaceWidget.setCurrentNode(self._parameterNode.roi)
        self.ui.modelPathLineEdit.currentPath = self._parameterNode.modelPath
        self.ui.segmentSelector.setCurrentNode(self._parameterNode.outputSegmentation)
        self.ui.segmentSelector.setCurrentSegmentID(self._parameterNode.segmentId)
        self.updateButtons()

    def _disconnectParameterNode(self) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.onParameterNodeModified)

    def onParameterNodeModified(self, caller=None, event=None) -> None:
        self._ensureBox()
        self._observeBox()
        self.updateButtons()

    def _observeBox(self) -> None:
        """Segment waits for the box to be placed: follow its points being placed and deleted."""
        roi = self._parameterNode.roi if self._parameterNode else None
        if roi is self._observedBox:
            return
        events = (slicer.vtkMRMLMarkupsNode.PointPositionDefinedEvent,
                  slicer.vtkMRMLMarkupsNode.PointPositionUndefinedEvent)
        for event in events:
            if self._observedBox is not None:
                self.removeObserver(self._observedBox, event, self.updateButtons)
            if roi is not None:
                self.addObserver(roi, event, self.updateButtons)
        self._observedBox = roi

    def onModelPathChanged(self, path) -> None:
        if self._parameterNode:
            self._parameterNode.modelPath = path

    def onCustomSettings(self, on: bool) -> None:
        """Custom values start from the model's measured defaults, not from generic ones."""
        p = self._parameterNode
        if not on or p is None:
            return
        with self._messages():
            from interactiveseg.flat_axis import slices_seen  # numpy: loaded on use, not with the module
            image = p.sourceVolume.GetImageData() if p.sourceVolume else None
            # The default model depends on it: one slice, along any axis, goes to the 2D model.
            slices = slices_seen(tuple(reversed(image.GetDimensions()))) if image else None
            measured = self.logic.core().model_settings(p.modelPath, slices)
            for name, attribute in PANEL_SETTINGS.items():
                setattr(p, attribute, measured[name])

    def onSegmentChanged(self, segmentId) -> None:
        if self._parameterNode and self._followSegmentSelector:
            self._parameterNode.segmentId = segmentId or ""

    @contextlib.contextmanager
    def _segmentChoiceKept(self):
        """Undo can remove the segment a round made, and the selector then moves to another segment of the
        segmentation, which the next Segment would overwrite. Keep the user's choice instead; a removed
        segment becomes none (the next Segment makes a new one)."""
        p = self._parameterNode
        chosen = p.segmentId if p else ""
        self._followSegmentSelector = False
        try:
            yield
        finally:
            self._followSegmentSelector = True
            if p is not None:
                segmentation = p.outputSegmentation
                present = bool(chosen) and segmentation is not None and \
                    segmentation.GetSegmentation().GetSegment(chosen) is not None
                p.segmentId = chosen if present else ""
                self.ui.segmentSelector.setCurrentSegmentID(p.segmentId)

    def updateButtons(self, caller=None, event=None) -> None:
        p = self._parameterNode
        if p is None:
            return
        self.ui.segmentSelector.setCurrentNode(p.outputSegmentation)
        core = self.logic.existingCore()
        self._hideModuleNodes()
        busy = self._busy
        ready = bool(p.sourceVolume and p.roi and p.roi.GetNumberOfDefinedControlPoints() > 0)
        self.ui.segmentButton.enabled = ready and not busy
        self.ui.refineButton.enabled = bool(core and core.can_refine) and not busy
        self.ui.undoButton.enabled = bool(core and core.rounds) and not busy
        self.ui.acceptButton.enabled = bool(core and core.rounds) and not busy
        self.ui.cancelButton.enabled = busy
        self.ui.discardButton.enabled = bool(core and core.rounds) and not busy
        self.ui.exportLabelmapButton.enabled = bool(core and core.rounds) and not busy
        self.ui.jumpToUncertainButton.enabled = bool(core and core.rounds) and not busy
        for widget in (self.ui.iterationsSpinBox, self.ui.omegaSpinBox, self.ui.t0SpinBox, self.ui.t1SpinBox,
                       self.ui.learningRateSpinBox):
            widget.enabled = p.customSettings
        if core and core.device:
            self.ui.deviceLabel.text = core.device

    def _hideModuleNodes(self) -> None:
        """The scribble segmentation and the uncertainty volume are the module's own: not offered as source or
        output."""
        from InteractiveSegLib.module_nodes import module_nodes
        ids = sorted(n.GetID() for n in module_nodes(slicer.mrmlScene))
        for selector in (self.ui.sourceVolumeSelector, self.ui.outputSegmentationSelector):
            selector.sortFilterProxyModel().hiddenNodeIDs = ids

    # Box and scribbles -----------------------------------------------------------------

    def _ensureBox(self) -> None:
        """Once there is a source volume, the panel has its one box to place (a new scene gets "Box"; a box
        the user picked or placed before is kept). It starts empty, so the place widget's button is live."""
        p = self._parameterNode
        if p is None or p.sourceVolume is None:
            return
        if p.roi is not None and slicer.mrmlScene.GetNodeByID(p.roi.GetID()) is not None:
            return
        roi = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLMarkupsROINode", slicer.mrmlScene.GenerateUniqueName("Box"))
        roi.CreateDefaultDisplayNodes()
        p.roi = roi

    def _scribbleButtons(self) -> dict:
        return {"foreground": self.ui.foregroundButton, "background": self.ui.backgroundButton,
                "erase": self.ui.eraseButton}

    def onScribbleEditorChanged(self, caller=None, event=None) -> None:
        """Check the button of what the embedded editor does now (Paint on a scribble segment, or Erase)."""
        effect = self._editorNode.GetActiveEffectName()
        segment = self._editorNode.GetSelectedSegmentID()
        tool = "erase" if effect == "Erase" else segment if effect == "Paint" else None
        for name, button in self._scribbleButtons().items():
            button.checked = name == tool

    def onScribbleTool(self, tool: str) -> None:
        buttons = self._scribbleButtons()
        if not buttons[tool].checked:  # clicked again: stop painting
            self.scribbleEditor.setActiveEffect(None)
            return
        for name, button in buttons.items():
            button.checked = name == tool
        started = False
        with self._messages():
            core = self.logic.core()
            node = core.ensure_scribble_node(self._parameterNode.sourceVolume, self._parameterNode.scribbles)
            self._parameterNode.scribbles = node
            self.scribbleEditor.setSegmentationNode(node)
            self.scribbleEditor.setSourceVolumeNode(self._parameterNode.sourceVolume)
            if tool == "erase":
                self.scribbleEditor.setActiveEffectByName("Erase")
                # Erase both kinds of stroke: by default the effect erases only the selected segment.
                self.scribbleEditor.activeEffect().setParameter("EraseAllSegments", 1)
            else:
                self.scribbleEditor.setCurrentSegmentID(tool)
                self.scribbleEditor.setActiveEffectByName("Paint")
            started = True
        if not started:  # the message says why
            for button in buttons.values():
                button.checked = False

    def onClearScribbles(self) -> None:
        with self._messages():
            from InteractiveSegLib.scribbles import clear_scribbles, is_scribble_node
            if is_scribble_node(self._parameterNode.scribbles):
                clear_scribbles(self._parameterNode.scribbles)

    # Rounds ----------------------------------------------------------------------------

    def onSegment(self) -> None:
        p = self._parameterNode
        with self._messages():
            if not p.engineAddress.strip():  # a remote engine has its own torch: this computer needs none
                self.logic.ensureEngine()
            core = self.logic.core()
            core.use_engine(p.engineAddress, self.ui.engineTokenLineEdit.text)
            core.scribble_node = p.scribbles
            core.show_uncertainty = p.showUncertainty
            job = core.plan_segment(p.sourceVolume, p.roi, p.outputSegmentation, p.segmentId,
                                    model_path=p.modelPath, settings=self._settings(), device=p.device)
            self._start(job, _("Segmenting"))

    def onRefine(self) -> None:
        with self._messages():
            self.scribbleEditor.setActiveEffect(None)  # finish any stroke in progress
            job = self.logic.core().plan_refine(self._parameterNode.scribbles)
            self._start(job, _("Refining"))

    def _settings(self) -> dict:
        p = self._parameterNode
        if not p.customSettings:
            return {}
        return {name: getattr(p, attribute) for name, attribute in PANEL_SETTINGS.items()}

    @property
    def _busy(self) -> bool:
        return self._runner is not None and self._runner.busy

    def _start(self, job, what: str) -> None:
        from InteractiveSegLib.round_runner import RoundRunner
        if self._runner is None or self._runner.logic is not self.logic.core():
            self._runner = RoundRunner(self.logic.core())
        self._runner.start(job)  # sends the request to the engine worker and returns at once
        self.ui.progressBar.value = 0
        self._say(f"{what}...")
        self._timer.start()
        self.updateButtons()
        self.onPoll()  # a request the worker refused at once ends here

    def onPoll(self) -> None:
        from InteractiveSegLib.round_runner import DONE
        status = self._runner.poll() if self._runner is not None else None
        if status is None or not status.finished:
            if status is not None:
                self.ui.progressBar.value = int(100 * status.fraction)
                self.ui.progressBar.format = f"%p% {status.message}"
            return
        self._timer.stop()
        self.ui.progressBar.value = 100 if status.state == DONE else 0
        self.ui.progressBar.format = "%p%"
        if status.state == DONE:
            with self._messages():
                self._showRound(status.job, status.result)
        elif status.bug:
            logging.error("InteractiveSeg failed: %s\n%s", status.message, status.details)
            self._say(_("{error}. Details are in the Python console / log.").format(error=status.message), error=True)
        else:
            self._say(status.message, error=status.state != "cancelled")
        self.updateButtons()

    def _showRound(self, job, result) -> None:
        core = self.logic.core()
        self._parameterNode.outputSegmentation = job.segmentation_node
        self._parameterNode.segmentId = job.segment_id
        self.ui.segmentSelector.setCurrentSegmentID(job.segment_id)
        self._showUncertaintyLayer()
        if result.round == 0:  # a new box: is it like what the model was trained on?
            from InteractiveSegLib.guidance import familiarity_text
            self.ui.familiarityLabel.text = familiarity_text(core.familiarity())
        notes = "".join(f"<br>{w}" for w in result.warnings)
        self._say(_("Round {round} done in {seconds:.1f} s on {device}.").format(
            round=core.rounds, seconds=result.seconds, device=result.device) + notes)  # from 1, as the web page

    def onCancel(self) -> None:
        if self._busy:
            self._runner.cancel()  # the engine stops at its next check; the result is dropped
            self.ui.progressBar.format = _("Cancelling...")

    def onDiscard(self) -> None:
        if slicer.util.confirmOkCancelDisplay(_("Undo every round of this segmentation?")):
            with self._messages(), self._segmentChoiceKept():
                self.logic.core().discard()
                self._say(_("All rounds were undone."))
        self._showUncertaintyLayer()  # the overlay went with the rounds: the views get their layers back
        self.updateButtons()

    def onUndo(self) -> None:
        with self._messages(), self._segmentChoiceKept():
            self.logic.core().undo()
            self._say(_("Last round undone."))
        self._showUncertaintyLayer()
        self.updateButtons()

    def onAccept(self) -> None:
        with self._messages():
            self.scribbleEditor.setActiveEffect(None)
            self.logic.core().accept()
            self._say(_("Segment accepted."))
        self._showUncertaintyLayer()
        self.updateButtons()

    def onExportLabelmap(self) -> None:
        with self._messages():
            node = self.logic.core().export_labelmap()
            self._say(_("Exported to '{name}'.").format(name=node.GetName()))

    def onShowUncertainty(self, show: bool) -> None:
        core = self.logic.existingCore()
        if core is None:
            return
        core.show_uncertainty = show
        core.update_uncertainty(core.result)
        self._showUncertaintyLayer()

    def onJumpToUncertain(self) -> None:
        """Centre the slice views on the next most uncertain region of the last round."""
        with self._messages():
            target = self.logic.core().next_uncertain_region()
            if target is None:
                self._say(_("The last round has no uncertain region."))
                return
            region, point = target
            slicer.modules.markups.logic().JumpSlicesToLocation(*[float(v) for v in point], True)
            self._say(_("Uncertain region {rank}: {voxels} voxels ({ml:.1f} ml).").format(
                rank=region.rank, voxels=region.voxels, ml=region.volume_ml))

    def _showUncertaintyLayer(self) -> None:
        """Show the overlay as the slice views' foreground; when it goes, give back what they showed before."""
        core = self.logic.existingCore()
        composites = slicer.util.getNodesByClass("vtkMRMLSliceCompositeNode")
        if core is not None and core.uncertainty_node is not None:
            if self._foregroundBefore is None:
                self._foregroundBefore = {c.GetID(): (c.GetForegroundVolumeID(), c.GetForegroundOpacity())
                                          for c in composites}
            slicer.util.setSliceViewerLayers(foreground=core.uncertainty_node, foregroundOpacity=0.4)
        elif self._foregroundBefore is not None:
            for composite in composites:
                volume_id, opacity = self._foregroundBefore.get(composite.GetID(), (None, 0.0))
                if volume_id is not None and slicer.mrmlScene.GetNodeByID(volume_id) is None:
                    volume_id = None  # removed since
                composite.SetForegroundVolumeID(volume_id)
                composite.SetForegroundOpacity(opacity)
            self._foregroundBefore = None

    # Messages in the panel ---------------------------------------------------------------

    def _say(self, text: str, error: bool = False) -> None:
        self.ui.statusLabel.text = f'<span style="color:#c0392b">{text}</span>' if error else text

    def _showError(self, error: BaseException) -> None:
        from interactiveseg.errors import InteractiveSegError  # torch-free: works before torch is installed
        from InteractiveSegLib.dependencies import DependencyError
        if isinstance(error, (InteractiveSegError, DependencyError)):
            self._say(str(error), error=True)
        else:  # a bug, not bad input: keep the details in the log
            logging.error("InteractiveSeg failed", exc_info=(type(error), error, error.__traceback__))
            self._say(_("Unexpected error: {error}. Details are in the Python console / log.").format(error=error),
                      error=True)

    @contextlib.contextmanager
    def _messages(self):
        """Show what went wrong in the panel instead of raising it into Qt."""
        try:
            yield
        except Exception as error:
            self._showError(error)


class InteractiveSegLogic(ScriptedLoadableModuleLogic):
    """Slicer's logic class: the parameter node, and the Qt-free logic made on first use.

    The Qt-free logic needs torch; it is created after torch is installed (asking first).
    """

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        self._core = None

    def getParameterNode(self):
        return InteractiveSegParameterNode(super().getParameterNode())

    def ensureEngine(self) -> None:
        """The packages the engine worker needs (torch, safetensors), installed after asking: only Segment
        calls this."""
        from InteractiveSegLib import dependencies
        testing = slicer.app.commandOptions().testingEnabled
        dependencies.ensure(confirm=lambda text: testing or slicer.util.confirmOkCancelDisplay(text),
                            pip_install=slicer.util.pip_install)

    def core(self):
        """InteractiveSegLib's logic for the current scene (torch-free: the engine runs in a worker process)."""
        if self._core is None:
            from InteractiveSegLib.engine_client import EngineClient, slicer_python
            from InteractiveSegLib.logic import InteractiveSegmentationLogic
            self._core = InteractiveSegmentationLogic(slicer.mrmlScene, EngineClient(python=slicer_python()))
        return self._core

    def existingCore(self):
        return self._core

    def resetInteraction(self) -> None:
        """The scene (or the module) is closing: its nodes, the rounds on them and the worker are gone."""
        if self._core is not None:
            self._core.engine.close()
        self._core = None


class InteractiveSegTest(ScriptedLoadableModuleTest):
    """Runs inside Slicer (ctest): the logic on Slicer's own scene, then the panel."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_logic_round_trip()
        self.setUp()
        self.test_panel_opens()
        self.setUp()
        self.test_scribble_buttons_follow_the_editor_and_one_box_stays_one()

    def test_logic_round_trip(self):
        import tempfile

        import numpy as np

        logic = InteractiveSegLogic().core()
        from interactiveseg import model_file, networks
        from InteractiveSegLib.labelmaps import full_region, read_segment, write_segment_region
        from InteractiveSegLib.matrices import ijk_to_ras

        self.delayDisplay("Synthetic image and box")
        k, j, i = np.indices((16, 32, 32))
        ball = (k - 8) ** 2 + (j - 16) ** 2 + (i - 16) ** 2 < 36
        image = (np.where(ball, 200, 20).astype(np.int16)
                 + np.random.default_rng(0).integers(0, 10, ball.shape).astype(np.int16))
        volume = slicer.util.addVolumeFromArray(image, name="InteractiveSegTestVolume")
        roi = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLMarkupsROINode")
        roi.SetCenter((ijk_to_ras(volume) @ [16, 16, 8, 1])[:3])
        roi.SetSize(16, 16, 12)

        self.delayDisplay("A small untrained model (the shipped one may not exist in a build tree)")
        architecture = networks.pcnet_architecture(channels=4, compress_channels=2, classifier_channels=8)
        folder = tempfile.mkdtemp()
        path = os.path.join(folder, "tiny.safetensors")
        model_file.save_model(path, networks.build_network(architecture),
                              model_file.new_card(architecture, (16, 32, 32)))

        self.delayDisplay("Segment, paint, refine, undo")
        fast = {"iterations": 2, "alternations": 1}
        first = logic.segment(volume, roi, None, "", model_path=path, settings=fast)
        self.assertEqual(logic.rounds, 1)
        scribbles = logic.ensure_scribble_node(volume)
        foreground = np.zeros(ball.shape, dtype=bool)
        foreground[8, 16, 14:19] = True
        write_segment_region(scribbles, "foreground", volume, full_region(volume), foreground)
        second = logic.refine()
        self.assertEqual(second.round, 1)
        output = [n for n in slicer.util.getNodesByClass("vtkMRMLSegmentationNode") if n is not scribbles][0]
        segment_id = output.GetSegmentation().GetNthSegmentID(0)
        np.testing.assert_array_equal(read_segment(output, segment_id, volume), second.mask)
        self.assertTrue(logic.undo())
        np.testing.assert_array_equal(read_segment(output, segment_id, volume), first.mask)
        logic.accept()
        self.delayDisplay("Logic test passed")

    def test_panel_opens(self):
        slicer.util.selectModule("InteractiveSeg")
        widget = slicer.modules.interactiveseg.widgetRepresentation().self()
        self.assertFalse(widget.ui.refineButton.enabled)
        self.assertTrue(widget.ui.advancedCollapsibleButton.collapsed)
        self.delayDisplay("Panel test passed")

    def test_scribble_buttons_follow_the_editor_and_one_box_stays_one(self):
        import numpy as np
        slicer.util.selectModule("InteractiveSeg")
        widget = slicer.modules.interactiveseg.widgetRepresentation().self()
        volume = slicer.util.addVolumeFromArray(np.zeros((8, 16, 16), dtype=np.int16), name="blank")
        widget._parameterNode.sourceVolume = volume
        widget.onShortcut("foreground")  # Ctrl+Shift+F
        self.assertEqual(widget._editorNode.GetActiveEffectName(), "Paint")
        self.assertTrue(widget.ui.foregroundButton.checked and not widget.ui.backgroundButton.checked)
        widget.scribbleEditor.setCurrentSegmentID("background")  # chosen in the editor itself
        self.assertTrue(widget.ui.backgroundButton.checked and not widget.ui.foregroundButton.checked)
        widget.scribbleEditor.setActiveEffect(None)
        self.assertFalse(any(b.checked for b in widget._scribbleButtons().values()))
        # The source volume brought the panel its one box, and Slicer's place widget places it.
        roi = widget._parameterNode.roi
        self.assertIsNotNone(roi)
        self.assertEqual(widget.boxPlaceWidget.currentNode(), roi)
        widget.boxPlaceWidget.placeModeEnabled = True
        interaction = slicer.app.applicationLogic().GetInteractionNode()
        self.assertEqual(interaction.GetCurrentInteractionMode(), slicer.vtkMRMLInteractionNode.Place)
        self.assertEqual(slicer.app.applicationLogic().GetSelectionNode().GetActivePlaceNodeID(), roi.GetID())
        widget.boxPlaceWidget.placeModeEnabled = False
        self.assertFalse(widget.ui.segmentButton.enabled)  # nothing placed yet
        roi.AddControlPoint(vtk.vtkVector3d(0, 0, 0))  # as a click in a view would
        roi.SetSize(10, 10, 10)
        self.assertTrue(widget.ui.segmentButton.enabled)
        self.assertEqual(slicer.mrmlScene.GetNumberOfNodesByClass("vtkMRMLMarkupsROINode"), 1)
        # The panel's buttons are the only stroke controls; Erase takes both kinds of stroke.
        for name in ("EffectsGroupBox", "SegmentsTableView"):
            self.assertTrue(slicer.util.findChild(widget.scribbleEditor, name).isHidden())
        widget.scribbleEditor.setActiveEffectByName("Erase")
        self.assertEqual(widget.scribbleEditor.activeEffect().integerParameter("EraseAllSegments"), 1)
        widget.scribbleEditor.setActiveEffect(None)
        self.delayDisplay("Scribble buttons and box test passed")
