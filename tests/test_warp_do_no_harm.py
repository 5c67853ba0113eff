"""The warp engine changes the garment and nothing else: synthetic scenes where the truth is known (a drawn pose on
a textured room, a repaint mask over the whole crop as a careless user's mask would be), and the shipped tee
with its red print. Each test runs the engine itself (`WarpEngine.generate`)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.test_warp_engine import EXAMPLES, HEIGHT, WIDTH, Quiet, garment_input, lab
from tryon_cli.engines.base import CropFrame
from tryon_cli.engines.warp import WarpEngine
from tryon_cli.engines.warp import engine as engine_module
from tryon_cli.engines.warp.body import face_box
from tryon_cli.engines.warp.dress import fill_holes, fragments
from tryon_cli.engines.warp.room import room_seen
from tryon_cli.engines.warp.stabilize import PoseFiller
from tryon_cli.preprocess import conditioning
from tryon_cli.preprocess.crop import PAD_VALUE
from tryon_cli.preprocess.garment_landmarks import silhouette_landmarks
from tryon_cli.preprocess.head import frame_interior
from tryon_cli.preprocess.keypoints import BODY_INDEX as J
from tryon_cli.preprocess.keypoints import FramePose

# A person facing the camera in crop pixels (their right side on the image's left), trunk 150 px (neck to hips).
FRONT = {
    "nose": (192, 92),
    "r_eye": (185, 84),
    "l_eye": (199, 84),
    "r_ear": (176, 88),
    "l_ear": (208, 88),
    "neck": (192, 140),
    "r_shoulder": (152, 146),
    "l_shoulder": (232, 146),
    "r_elbow": (140, 216),
    "l_elbow": (244, 216),
    "r_wrist": (134, 282),
    "l_wrist": (250, 282),
    "r_hip": (168, 290),
    "l_hip": (216, 290),
    "r_knee": (168, 392),
    "l_knee": (216, 392),
    "r_ankle": (168, 480),
    "l_ankle": (216, 480),
}
CHIN = 118  # the chin's row: a head's nose-to-chin is about a sixth of the trunk below the nose


def body_of(points: dict) -> np.ndarray:
    body = np.zeros((18, 3), np.float32)
    for name, xy in points.items():
        body[J[name]] = (*xy, 0.9)
    return body


def room(seed: int = 0) -> np.ndarray:
    """A textured grey-green room with an old garment: a flat green top over the trunk and arms, skin elsewhere on
    the person's head and hands."""
    rng = np.random.default_rng(seed)
    image = cv2.GaussianBlur(rng.uniform(0, 255, (HEIGHT, WIDTH, 3)).astype(np.float32), (0, 0), 3)
    image = (image - image.mean()) / image.std() * 20 + np.array([150, 160, 140])
    person = np.zeros((HEIGHT, WIDTH), np.uint8)
    cv2.circle(person, (192, 95), 28, 1, -1)  # the head and face
    image[person > 0] = (205, 160, 135)
    top = np.zeros((HEIGHT, WIDTH), np.uint8)
    cv2.fillConvexPoly(top, np.array([(150, 140), (234, 140), (220, 300), (164, 300)], np.int32), 1)
    image[top > 0] = (40, 150, 60)
    return np.clip(image, 0, 255).astype(np.uint8)


class Frames:
    """A CropClip of synthetic frames: the same room, each frame its own pose."""

    def __init__(self, source: np.ndarray, bodies: list[np.ndarray], interior=None):
        self.source, self.bodies, self.interior = source, bodies, interior
        self.num_frames, self.height, self.width, self.fps = len(bodies), HEIGHT, WIDTH, 24.0

    def frames(self):
        mask = np.ones((HEIGHT, WIDTH), bool)  # a user's mask over everything: the engine must still hold back
        for t, body in enumerate(self.bodies):
            yield CropFrame(t, self.source, mask, self.source, FramePose(body), self.interior)

    def poses(self):
        return [FramePose(b) for b in self.bodies]


@pytest.fixture(scope="module")
def tee():
    """The shipped navy tee with the red 'Lee' print on its front."""
    return garment_input(EXAMPLES / "garment_upper_00057_00.jpg", "upper")


def dress(bodies: list[np.ndarray], garment, source: np.ndarray | None = None) -> tuple[np.ndarray, list]:
    source = room() if source is None else source
    return source, list(WarpEngine().generate(Frames(source, bodies), garment, Quiet()))


def red_print(pixels: np.ndarray) -> np.ndarray:
    """bool per RGB pixel: the print's saturated red (the tee itself is navy, the room grey-green)."""
    p = pixels.astype(int)
    return (p[..., 0] > 140) & (p[..., 0] > p[..., 1] + 70) & (p[..., 0] > p[..., 2] + 70)


def test_the_face_is_never_changed_even_under_a_mask_that_covers_it(tee):
    """Upright, and with the head bowed so far that the chin meets the tee's collar."""
    bowed = dict(FRONT, nose=(192, 122), r_eye=(185, 112), l_eye=(199, 112), r_ear=(176, 114), l_ear=(208, 114))
    for pose, face in ((FRONT, (slice(60, CHIN), slice(170, 215))), (bowed, (slice(95, 138), slice(172, 212)))):
        source, outputs = dress([body_of(pose)] * 3, tee)
        for out in outputs:
            # The face from forehead to chin, ear to ear.
            np.testing.assert_array_equal(out[face], source[face])
            assert (out != source).any()  # the garment is drawn somewhere


def test_a_head_above_the_frame_is_placed_from_the_neck_and_the_collar_is_drawn(tee):
    """The crop reaches above the frame (padded grey there), whose top row is the crop's row 125, between the nose
    and the neck (gallery T1: the head above the frame's top edge). The detector puts the nose and eyes, which lie
    beyond the frame, on its edge. They say only "at or beyond", so the head is placed above the neck, and the tee
    reaches up to its collar. Judged by the crop's own border, they hung a face box from the edge down over the
    chest, and the tee was cut square below the neck."""
    edge = 125
    clamped = {name: xy for name, xy in FRONT.items() if not name.endswith("_ear")}
    clamped.update(nose=(192, edge), r_eye=(185, edge), l_eye=(199, edge))
    source = room()
    source[:edge] = PAD_VALUE
    interior = frame_interior(HEIGHT - edge, WIDTH)
    interior = (interior[0], interior[1] + edge, interior[2], interior[3] + edge)
    outputs = list(WarpEngine().generate(Frames(source, [body_of(clamped)] * 3, interior), tee, Quiet()))
    for out in outputs:
        collar = (slice(142, 160), slice(178, 207))  # below the neck point (row 140), either side of the spine
        assert (out[collar] != source[collar]).any(axis=2).mean() > 0.95
        np.testing.assert_array_equal(out[:130], source[:130])  # the chin in the frame, the padding above it


def test_head_points_on_the_frames_edge_do_not_place_the_face_box():
    """Nose and eyes clamped onto the frame's top edge, in a crop that reaches above it: the face box is the one
    placed from the shoulders, as if the head points were not seen."""
    edge = 125
    clamped = body_of(dict(FRONT, nose=(192, edge), r_eye=(185, edge), l_eye=(199, edge)))
    clamped[[J["r_ear"], J["l_ear"]]] = 0
    interior = (2.0, edge + 2.0, WIDTH - 2.0, HEIGHT - 2.0)
    unseen = clamped.copy()
    unseen[[J["nose"], J["r_eye"], J["l_eye"]]] = 0
    assert face_box(clamped, HEIGHT, WIDTH, interior=interior) == face_box(unseen, HEIGHT, WIDTH)
    assert face_box(clamped, HEIGHT, WIDTH) != face_box(unseen, HEIGHT, WIDTH)  # inside the crop's own border


def test_a_sleeve_raised_beside_the_head_stays_out_of_the_face_box(tee):
    """The left arm raised beside the head (as gallery T6's dancer): its sleeve is drawn along the upper arm but not
    in the face box with the hair beside the face (`body.face_box`), which reaches past the head region the masks
    keep."""
    raised = body_of(dict(FRONT, l_elbow=(222, 80), l_wrist=(214, 20)))
    x0, y0, x1, y1 = face_box(raised, HEIGHT, WIDTH)
    source, outputs = dress([raised] * 3, tee)
    for out in outputs:
        np.testing.assert_array_equal(out[y0:y1, x0:x1], source[y0:y1, x0:x1])
        assert (out[y1 : y1 + 30, 215:250] != source[y1 : y1 + 30, 215:250]).any(axis=2).mean() > 0.3  # the sleeve


def long_sleeved_top():
    """A navy long-sleeved top on white: a torso and two sleeves hanging at the sides, as a product photo."""
    photo = np.full((1024, 768, 3), 255, np.uint8)
    for corners in (
        [(250, 150), (518, 150), (530, 900), (238, 900)],
        [(250, 150), (300, 200), (140, 860), (80, 830)],
        [(518, 150), (468, 200), (628, 860), (688, 830)],
    ):
        cv2.fillConvexPoly(photo, np.array(corners, np.int32), (30, 40, 90))
    return conditioning.garment_input(photo, silhouette_landmarks(photo, "upper"), HEIGHT, WIDTH)


def test_a_sleeve_cut_through_by_the_face_box_leaves_no_piece_over_the_room():
    """The left forearm raised across behind the head (as the detector put gallery T6's raised arms): the face box
    cuts its long sleeve in two, and the cuff's end beyond the head, joined to nothing, is not drawn over the room
    (it was: a navy scrap floating above the head), while the sleeve on the upper arm and the elbow still is."""
    raised = body_of(dict(FRONT, l_elbow=(236, 80), l_wrist=(150, 30)))
    source, outputs = dress([raised] * 3, long_sleeved_top())
    beyond = (slice(0, 60), slice(100, 185))  # above the head's left: where the cut-off cuff lay
    upper_arm = (slice(100, 130), slice(228, 250))
    for out in outputs:
        np.testing.assert_array_equal(out[beyond], source[beyond])
        assert (out[upper_arm] != source[upper_arm]).any(axis=2).mean() > 0.5


def test_a_whole_sleeve_apart_from_the_torso_stays_and_a_scrap_goes():
    """Of the pieces drawn apart from the trunk's garment, a sleeve drawn whole (a lock of hair or a gap between it
    and the torso) stays; what is left of a sleeve cut mostly away (less than `SCRAP` of it) goes, as does a piece
    on no sleeve at all."""
    drawn = np.zeros((200, 200), bool)
    torso, whole = (slice(50, 150), slice(60, 120)), (slice(50, 90), slice(130, 150))
    cut, orphan = (slice(10, 20), slice(10, 30)), (slice(180, 190), slice(180, 190))
    for piece in (torso, whole, cut, orphan):
        drawn[piece] = True
    anchor = np.zeros_like(drawn)
    anchor[torso] = True
    whole_sleeve, long_sleeve = np.zeros_like(drawn), np.zeros_like(drawn)
    whole_sleeve[whole] = True
    long_sleeve[10:20, 10:80] = True  # drawn only at its end: the rest cut away (by the face box, say)
    scraps = fragments(drawn, anchor, [whole_sleeve, long_sleeve]) > 0
    assert not scraps[torso].any() and not scraps[whole].any()
    assert scraps[cut].all() and scraps[orphan].all()
    assert scraps.sum() == drawn[cut].sum() + drawn[orphan].sum()


def test_a_hole_inside_the_drawn_garment_on_the_person_is_filled_and_the_room_seen_through_one_is_not():
    """A hole the warp leaves inside the drawn garment is filled with the garment's colour around it, opaque with
    its soft edge, but not where nothing may be drawn (a hand kept in it); a hole mostly off the person (the room
    between an arm and the waist) stays whole, and a notch open to the garment's edge is no hole."""
    cover = np.zeros((120, 140, 4), np.float32)
    navy = np.array([20, 30, 90], np.float32)  # garment colour, 0-255, premultiplied by alpha 1
    cover[20:100, 20:120] = [*navy, 1.0]
    cover[45:65, 40:60] = 0  # a hole on the person
    cover[44, 40:60] = [*(0.6 * navy), 0.6]  # its soft edge
    cover[20:40, 45:55] = 0  # a notch from the top edge, open to the outside
    cover[50:70, 85:105] = 0  # a hole mostly off the person
    allowed = np.ones((120, 140), bool)
    allowed[50:56, 50:56] = False  # a hand kept inside the first hole
    allowed[50:68, 85:105] = False  # the room: 18 of the second hole's 20 rows
    before = cover.copy()
    fill_holes(cover, allowed)
    hole = np.zeros((120, 140), bool)
    hole[44:65, 40:60] = True
    hole[50:56, 50:56] = False
    # Telea's inpainting carries a flat colour in within a few levels (3 here).
    assert np.allclose(cover[hole, 3], 1.0) and np.abs(cover[hole, :3] - navy).max() <= 4.0
    assert (cover[50:56, 50:56] == 0).all()  # the hand
    assert (cover[50:70, 85:105] == 0).all()  # the room seen through
    assert (cover[20:40, 45:55] == 0).all()  # the notch
    changed = (cover != before).any(axis=2)
    assert not changed[~hole].any()


def test_nothing_but_the_garment_is_drawn_no_bare_torso(tee):
    """Every changed pixel is the garment: nothing in the person's skin tone is painted on the torso (the old
    engine painted a chest where the neckline opens, and a whole torso under a garment it could not separate), and
    the room far from the person keeps its pixels."""
    source, outputs = dress([body_of(FRONT)] * 3, tee)
    skin = lab(np.array([[205, 160, 135]], np.uint8))[0]  # the face's colour in `room`
    for out in outputs:
        changed = (out != source).any(axis=2)
        colours = lab(out[changed])
        skin_toned = (np.linalg.norm(colours[:, 1:] - skin[1:], axis=1) < 8) & (np.abs(colours[:, 0] - skin[0]) < 30)
        # A few blended pixels at the print's orange edges may fall in the box; a painted chest is thousands.
        assert changed.sum() > 5000 and skin_toned.sum() <= changed.sum() // 1000
        assert not changed[:, :60].any() and not changed[:, -60:].any()  # the room beside the person
        assert not changed[440:].any()  # below the tee's hem: the legs and feet


def test_a_sleeve_follows_an_arm_raised_sideways(tee):
    """The right arm raised to the horizontal: the sleeve (navy) lies along the upper arm there, and where the
    arm hung before the room shows."""
    raised = dict(FRONT, r_elbow=(82, 146), r_wrist=(22, 146))
    along = (112, 147)  # half-way down the raised upper arm
    hanging = (140, 195)  # beside the trunk, where the hanging arm's short sleeve ends
    for pose, on, off in ((raised, along, hanging), (FRONT, hanging, along)):
        source, outputs = dress([body_of(pose)] * 3, tee)
        out = outputs[-1]
        x, y = (int(round(v)) for v in on)
        assert out[y, x].max() < 90, (pose is raised, out[y, x])  # navy
        x, y = (int(round(v)) for v in off)
        np.testing.assert_array_equal(out[y, x], source[y, x])


def test_a_sleeve_stays_joined_to_the_torso_on_an_arm_held_out_or_raised(tee):
    """The right arm held out at 45 degrees, then raised to the horizontal: the sleeve, laid flat on the photo at
    its own angle, turns with the arm, and the wedge that opens between it and the torso just below the shoulder is
    filled by the root's turned copies (`dress.ROOT_STEPS`), navy like the tee; the room under the arm stays the
    room. (Unfilled, the old garment showed there as a white wedge on gallery C3.)"""
    wedge, under_arm = (150, 166), (120, 200)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    for elbow, wrist in (((100, 186), (60, 226)), ((82, 146), (22, 146))):
        source, outputs = dress([body_of(dict(FRONT, r_elbow=elbow, r_wrist=wrist))] * 3, tee)
        out = outputs[-1]
        near, below = ((xx - x) ** 2 + (yy - y) ** 2 <= 8**2 for x, y in (wedge, under_arm))
        assert (out[near].max(axis=1) < 90).mean() > 0.9, elbow  # navy
        np.testing.assert_array_equal(out[below], source[below])


def test_the_room_between_the_legs_stays_the_room(monkeypatch):
    """Trousers on legs that stand apart, the room showing in a gap 16 pixels wide between them (a full-length
    figure in the 512-pixel crop; the person segmentation given as the scene's truth): the legs are drawn, the gap's
    middle is not. At a margin of 8 crop pixels past the segmentation (`dress.OUTLINE_MARGIN` 0.015) about half of
    it was painted, as gallery C1's and C11's trousers bridged the legs and ran onto the floor below the old hem."""
    source = room()
    person = np.zeros((HEIGHT, WIDTH), np.uint8)
    cv2.circle(person, (192, 95), 28, 1, -1)
    cv2.fillConvexPoly(person, np.array([(150, 140), (234, 140), (220, 300), (164, 300)], np.int32), 1)
    legs = np.zeros_like(person)
    for side in "rl":
        cv2.line(legs, FRONT[f"{side}_hip"], FRONT[f"{side}_ankle"], 1, 29)  # 48 px apart: columns 184-199 free
    source[legs > 0] = (50, 70, 150)  # old blue jeans
    silhouette = (person | legs).astype(np.float32)
    monkeypatch.setattr(engine_module, "PersonSegmentation", lambda: lambda image: silhouette)
    trousers = garment_input(EXAMPLES / "garment_lower_051985_1.jpg", "lower")
    _, outputs = dress([body_of(FRONT)] * 3, trousers, source)
    gap = (slice(330, 460), slice(189, 196))  # the gap's middle, knee height
    thigh = (slice(330, 460), slice(160, 176))
    for out in outputs:
        assert (np.abs(out[gap].astype(int) - source[gap]).max(axis=2) > 16).sum() == 0
        assert (out[thigh] != source[thigh]).any(axis=2).mean() > 0.9  # the trousers are drawn on the legs


def test_the_room_seen_between_a_hanging_arm_and_the_trunk_stays_the_room(monkeypatch):
    """Long sleeves on arms hanging a little apart from the trunk, the room showing between arm and trunk and the
    person segmentation taking that gap in, unsure of it (it runs at 256x256: on gallery C2 the wall between her arm
    and her coat was "person", at probabilities 0.6-0.9, and the dress was drawn across it): the gap, open to the
    room below the hands, keeps the room's pixels while the sleeves are drawn on the arms; a patch of the room's
    colours on the trunk (a print on the old garment) is drawn over: the person's colours are sampled on the pose's
    bones, so it counts as the person's."""
    hanging = dict(FRONT, r_elbow=(128, 216), r_wrist=(118, 282), l_elbow=(256, 216), l_wrist=(266, 282))
    source = room()
    backdrop = source.copy()
    old = np.zeros((HEIGHT, WIDTH), np.uint8)  # the old long-sleeved top
    cv2.fillConvexPoly(old, np.array([(150, 140), (234, 140), (220, 300), (164, 300)], np.int32), 1)
    for side in "rl":
        cv2.line(old, hanging[f"{side}_shoulder"], hanging[f"{side}_elbow"], 1, 24)
        cv2.line(old, hanging[f"{side}_elbow"], hanging[f"{side}_wrist"], 1, 22)
    source[old > 0] = (40, 150, 60)
    source[200:230, 180:205] = backdrop[200:230, 180:205]  # the print: the room's colours, inside the top
    silhouette = np.zeros((HEIGHT, WIDTH), np.float32)
    for gap in ([(150, 160), (138, 216), (129, 282), (167, 282)], [(234, 160), (246, 216), (255, 282), (217, 282)]):
        cv2.fillConvexPoly(silhouette, np.array(gap, np.int32), 0.7)  # the segmentation closes the gaps, unsure
    silhouette[old > 0] = 1.0
    cv2.circle(silhouette, (192, 95), 28, 1.0, -1)
    monkeypatch.setattr(engine_module, "PersonSegmentation", lambda: lambda image: silhouette)
    _, outputs = dress([body_of(hanging)] * 3, long_sleeved_top(), source)
    gaps = (slice(235, 275), slice(146, 152)), (slice(235, 275), slice(232, 238))
    forearm, print_ = (slice(240, 270), slice(118, 130)), (slice(205, 225), slice(185, 200))
    for out in outputs:
        for gap in gaps:
            np.testing.assert_array_equal(out[gap], source[gap])
        assert (out[forearm] != source[forearm]).any(axis=2).mean() > 0.9  # the sleeve
        assert (out[print_] != source[print_]).any(axis=2).mean() > 0.9  # the garment over the print


def test_the_room_is_what_joins_the_room_outside_the_person_not_a_patch_of_its_colour_that_the_person_encloses():
    """`room.room_seen` on a dark figure against a pale wall, the segmentation taking in all of it: a slit of the
    wall's colour open at the figure's lower edge is the room; a patch of the same colours enclosed by the figure is
    not (it may as well be a print); the figure's own pixels are not, though a dark pole beside it in the room has
    their colour (it is far commoner on the figure)."""
    rng = np.random.default_rng(1)
    source = np.clip(rng.normal((205, 200, 190), 6, (200, 200, 3)), 0, 255).astype(np.uint8)  # the wall
    wall = source.copy()
    person = np.zeros((200, 200), bool)
    person[30:170, 50:150] = True
    source[person] = (40, 35, 45)
    pole = (slice(20, 180), slice(160, 164))
    source[pole] = (40, 35, 45)
    slit, patch = (slice(110, 170), slice(70, 76)), (slice(60, 72), slice(115, 127))
    for region in (slit, patch):
        source[region] = wall[region]
    probability = person.astype(np.float32)
    for region in (slit, patch):
        probability[region] = 0.7  # the segmentation takes them in, unsure
    body = body_of({"neck": (100, 32), "r_shoulder": (55, 32), "l_shoulder": (145, 32)})
    body[J["r_hip"]], body[J["l_hip"]] = (60, 170, 0.9), (140, 170, 0.9)  # at its lower edge, where the slit opens
    found = room_seen(source, probability, person, body, np.ones(person.shape, bool), 200)
    assert found[slit].mean() > 0.99 and not found[patch].any()  # the 3x3 majority rounds the slit's closed end
    figure = person.copy()
    figure[slit] = figure[patch] = False
    figure = cv2.erode(figure.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0  # ... and its inner corners
    assert not found[figure].any()
    wall_round = ~person
    wall_round[pole] = False
    assert found[wall_round].mean() > 0.99 and not found[40:160, 160:164].any()  # the pole but for its corners


def test_a_shaded_fold_of_the_garment_is_not_the_room_where_the_segmentation_is_sure_or_at_the_bodys_edge():
    """`room.room_seen` on a white garment whose side lies in shadow, a grey as light as the room's wall, off the
    pose's trunk and open to the room at the hem. Where the segmentation is sure of the fold (gallery T5 frames
    101-103, median probability 1.0: taken for the room, a crack of the old tee showed down the new hoodie) it is
    the person's. Unsure of it, it is still the person's: it lies along the body's outer edge, not between two of
    its parts (`room.between_parts`), and cut there a strip of the old tee showed along a back (T7 frames 43-50).
    The same fold between the trunk and an arm held out from it, unsure, is a gap: the colours decide, and take it
    for the room."""
    rng = np.random.default_rng(2)
    source = np.clip(rng.normal((202, 202, 204), 4, (200, 200, 3)), 0, 255).astype(np.uint8)  # the wall
    person = np.zeros((200, 200), bool)
    person[30:170, 50:150] = True
    source[person] = (240, 240, 240)
    fold = (slice(30, 170), slice(50, 62))
    source[fold] = (205, 205, 208)
    body = body_of({"neck": (105, 32), "r_shoulder": (66, 32), "l_shoulder": (145, 32)})
    body[J["r_hip"]], body[J["l_hip"]] = (66, 168, 0.9), (145, 168, 0.9)
    inside = np.ones(person.shape, bool)
    sure = person.astype(np.float32)
    found = room_seen(source, sure, person, body, inside, 200)
    assert not found[fold].any() and found[~person].mean() > 0.99
    unsure = sure.copy()
    unsure[fold] = 0.7
    assert not room_seen(source, unsure, person, body, inside, 200)[fold].any()
    # An arm held out beyond the fold, its sleeve of the garment's white: the fold lies between it and the trunk.
    arm = (slice(40, 120), slice(20, 42))
    person[arm] = True
    unsure[arm] = 1.0
    source[arm] = (240, 240, 240)
    body[J["r_elbow"]], body[J["r_wrist"]] = (31, 60, 0.9), (31, 110, 0.9)
    between = room_seen(source, unsure, person, body, inside, 200)[40:120, 50:62]
    assert between.mean() > 0.99


def test_the_near_forearm_of_a_side_view_stays_in_front_of_the_garment(tee):
    """Seen from the side (shoulders and hips nearly on top of each other), the near arm's bare forearm crosses the
    trunk at the waist; its middle and wrist lie beyond the trunk's thin quadrilateral, so it does not count as
    crossing (`body.crossing_forearms`), yet it is between the camera and the trunk: it keeps its pixels where the
    garment is drawn around it (gallery C4, frames 31-46: the new tee painted over a walker's forearm)."""
    side = dict(
        FRONT,
        r_shoulder=(186, 146),
        l_shoulder=(198, 146),
        r_hip=(188, 290),
        l_hip=(196, 290),
        r_elbow=(172, 226),
        r_wrist=(228, 262),
        l_elbow=(196, 216),
        l_wrist=(196, 282),
    )
    body = body_of(side)
    body[[J["l_shoulder"], J["l_elbow"], J["l_wrist"]], 2] = 0.5  # the far arm, hidden behind: less sure
    source = room()
    cv2.line(source, side["r_elbow"], side["r_wrist"], (205, 160, 135), 16)  # bare skin, as the head's
    _, outputs = dress([body] * 8, tee, source)
    core = np.zeros(source.shape[:2], np.uint8)
    cv2.line(core, side["r_elbow"], side["r_wrist"], 1, 6)
    core[:, :184] = 0
    core[:, 201:] = 0  # where it crosses the trunk's quadrilateral
    assert core.sum() > 60
    np.testing.assert_array_equal(outputs[-1][core > 0], source[core > 0])
    beside = (slice(200, 240), slice(184, 200))  # the waist above the forearm: the garment is drawn there
    assert (outputs[-1][beside] != source[beside]).any(axis=2).mean() > 0.5


def test_a_hand_whose_points_fall_short_of_it_keeps_its_pixels(tee, monkeypatch):
    """A hand turned in from the wrist over the top: the pose places it along its forearm (no hand points), and the
    part that reaches over the top lies outside that region. Its skin joined to the region within
    `hands.HAND_SKIN_REACH` keeps its pixels, while the garment is drawn around it (gallery T4 frame 76: the heel of
    a hand holding a scarf and a fingertip were drawn over)."""
    points = dict(FRONT, r_elbow=(150, 216), r_wrist=(160, 282))  # the right forearm hangs in front of the top
    source = room()
    person = np.zeros((HEIGHT, WIDTH), np.uint8)
    cv2.circle(person, (192, 95), 28, 1, -1)
    cv2.fillConvexPoly(person, np.array([(150, 140), (234, 140), (220, 300), (164, 300)], np.int32), 1)
    for side in "rl":
        cv2.line(person, points[f"{side}_shoulder"], points[f"{side}_elbow"], 1, 20)
        cv2.line(person, points[f"{side}_elbow"], points[f"{side}_wrist"], 1, 16)
    hand = (slice(284, 297), slice(160, 193))
    source[hand] = (205, 160, 135)  # bare skin, as the head's
    person[hand] = 1
    silhouette = person.astype(np.float32)
    monkeypatch.setattr(engine_module, "PersonSegmentation", lambda: lambda image: silhouette)
    _, outputs = dress([body_of(points)] * 4, tee, source)
    # Past the forearm's capsule (its edge near column 175) and within the reach (12 px here) of it.
    past = (slice(284, 297), slice(177, 187))
    np.testing.assert_array_equal(outputs[-1][past], source[past])
    beside = (slice(240, 275), slice(180, 215))  # the top above the hand: the garment is drawn there
    assert (outputs[-1][beside] != source[beside]).any(axis=2).mean() > 0.9


def test_a_back_view_draws_no_front_print(tee):
    """Seen from the back (no nose, no eyes; the sides swap places on the image) the tee is drawn, navy, but its
    red print is not; seen from the front it is."""
    back = {k: v for k, v in FRONT.items() if k not in ("nose", "r_eye", "l_eye")}
    back = {
        (k.replace("r_", "@").replace("l_", "r_").replace("@", "l_")): v for k, v in back.items()
    }  # the person's left shoulder now on the image's left
    source, front_out = dress([body_of(FRONT)] * 8, tee)
    _, back_out = dress([body_of(back)] * 8, tee)
    trunk = (slice(150, 285), slice(165, 220))
    assert red_print(front_out[-1][trunk]).sum() > 50
    assert red_print(back_out[-1][trunk]).sum() == 0
    navy = back_out[-1][trunk].max(axis=2) < 90
    assert navy.mean() > 0.5  # the garment is there, in its own colour


def test_long_hair_over_a_back_stays_in_front_of_the_garment(tee):
    """Seen from the back, dark hair falls from the head over the old green top: the garment is drawn around it,
    not over it."""
    back = {k: v for k, v in FRONT.items() if k not in ("nose", "r_eye", "l_eye")}
    back = {(k.replace("r_", "@").replace("l_", "r_").replace("@", "l_")): v for k, v in back.items()}
    source = room()
    hair = (slice(100, 200), slice(176, 208))  # from the head down over the upper back, a head's width
    source[hair] = (35, 25, 20)
    _, outputs = dress([body_of(back)] * 8, tee, source)
    np.testing.assert_array_equal(outputs[-1][120:195, 182:202], source[120:195, 182:202])
    assert (outputs[-1][210:280, 175:210] != source[210:280, 175:210]).any(axis=2).mean() > 0.9  # below it: drawn


def test_a_filled_joint_keeps_its_side_when_the_person_turns_round():
    """The left elbow seen from the front, then lost while the person shows their back (the sides swapped on the
    image): it is put back beside the left shoulder, now on the image's left, not mirrored to the right; and with
    only the hips seen, the trunk still hangs down from them."""
    fill = PoseFiller()
    fill(body_of(FRONT))
    mirrored = {k: (WIDTH - 1 - x, y) for k, (x, y) in FRONT.items() if k not in ("nose", "r_eye", "l_eye")}
    lost = body_of({k: v for k, v in mirrored.items() if k != "l_elbow"})
    filled = fill(lost)
    np.testing.assert_allclose(filled[J["l_elbow"], :2], mirrored["l_elbow"], atol=1.0)

    fill = PoseFiller()
    fill(body_of(FRONT))
    hips_only = body_of({k: mirrored[k] for k in ("r_hip", "l_hip")})
    filled = fill(hips_only)
    assert filled[J["neck"], 1] < mirrored["r_hip"][1]  # the neck above the hips, not mirrored below them


def test_frames_that_cannot_be_dressed_come_back_as_they_are_with_one_note(tee):
    """A frame without a trunk is the source, bit for bit, and one note names it."""
    notes = []

    class Noting(Quiet):
        def note(self, message):
            notes.append(message)

    source = room()
    nobody = np.zeros((18, 3), np.float32)
    clip = Frames(source, [body_of(FRONT), nobody, nobody, body_of(FRONT)])
    outputs = list(WarpEngine().generate(clip, tee, Noting()))
    for t in (1, 2):
        np.testing.assert_array_equal(outputs[t], source)
    assert (outputs[0] != source).any() and (outputs[3] != source).any()
    assert len(notes) == 1 and "frames 1-2" in notes[0], notes


def test_paste_back_keeps_the_frames_own_pixels_where_the_engine_kept_the_source():
    """The application pastes only what the engine changed: where the crop equals the source's crop the
    full-resolution frame keeps its own pixels, even inside the repaint mask."""
    from tryon_cli.preprocess import crop as cropping
    from tryon_cli.tryon.clip import FullFrame
    from tryon_cli.tryon.writing import paste_back

    rng = np.random.default_rng(3)
    frame = rng.integers(0, 256, (832, 624, 3), dtype=np.uint8)
    mask = np.zeros((832, 624), bool)
    mask[200:600, 150:450] = True
    box = np.array([0.0, 0.0, 624.0, 832.0])
    crop = cropping.crop(frame, box, HEIGHT, WIDTH)
    crop[200:260, 150:200] = (0, 0, 255)  # the engine changes one block inside the mask
    full = FullFrame(0, frame, mask, box, FramePose(np.zeros((18, 3), np.float32)))
    out = paste_back(full, crop)
    changed = (out != frame).any(axis=2)
    block = np.zeros_like(changed)
    block[int(200 * 832 / 512) - 3 : int(260 * 832 / 512) + 3, int(150 * 624 / 384) - 3 : int(200 * 624 / 384) + 3] = 1
    assert changed[block > 0].mean() > 0.8
    assert not changed[~block.astype(bool)].any()
