# PyTorch twin of bench/loader.cpp: torch.utils.data.DataLoader (worker processes) over the same
# kind of set (64 JPEGs of 640 x 480, smooth ramps plus noise), PIL decode and bilinear affine crop
# to 224 x 224 with flip/rotation/scale/colour augmentation, ImageNet normalisation, batch 32.
# ms per batch, the same case names. (SPIN decodes with OpenCV; this Debian torch has PIL only.)
import math
import os
import shutil
import tempfile
import time

import numpy as np
import torch
from PIL import Image

from common import emit, setup

IMAGES, HEIGHT, WIDTH, BATCH, RES = 64, 480, 640, 32, 224
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def write_set(root):
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    boxes = []
    for i in range(IMAGES):
        channels = [128 + 90 * np.sin(0.013 * (x * (c + 1) + y * (i % 5 + 1)) + i) for c in range(3)]
        img = np.clip(np.stack(channels, -1) + rng.normal(0, 6, (HEIGHT, WIDTH, 3)), 0, 255).astype(np.uint8)
        path = os.path.join(root, f"{i}.jpg")
        Image.fromarray(img).save(path, quality=90)
        boxes.append((path, 320 + (i % 7) * 5, 240 - (i % 3) * 7, 1.6 + 0.1 * (i % 4)))
    return boxes


class CropDataset(torch.utils.data.Dataset):
    def __init__(self, boxes, cache):
        self.boxes, self.cache, self.images = boxes, cache, {}

    def __len__(self):
        return len(self.boxes)

    def image(self, i):
        if i in self.images:
            return self.images[i]
        img = Image.open(self.boxes[i][0]).convert("RGB")
        img.load()
        if self.cache:
            self.images[i] = img
        return img

    def __getitem__(self, i):
        path, cx, cy, scale = self.boxes[i]
        rng = np.random.default_rng(i + 1000 * torch.initial_seed() % 1000)
        flip = rng.random() < 0.5
        rot = 0.0 if rng.random() < 0.6 else float(np.clip(rng.normal() * 30, -60, 60))
        side = 200 * scale * float(np.clip(1 + rng.normal() * 0.25, 0.75, 1.25))
        color = rng.uniform(0.6, 1.4, 3).astype(np.float32)
        # Output pixel -> source pixel: undo the flip, the rotation about the crop centre, the zoom.
        k, c0, r = RES / side, (RES - 1) / 2, math.radians(rot)
        cos, sin = math.cos(r) / k, math.sin(r) / k
        fx = -1 if flip else 1
        a, b = fx * cos, -sin
        d, e = fx * sin, cos
        matrix = (a, b, cx - a * c0 - b * c0, d, e, cy - d * c0 - e * c0)
        crop = self.image(i).transform((RES, RES), Image.AFFINE, matrix, Image.BILINEAR)
        img = np.minimum(np.asarray(crop, np.float32) * color, 255) / 255
        return torch.from_numpy(((img - MEAN) / STD).transpose(2, 0, 1).copy())


def main():
    args = setup(__doc__)
    root = tempfile.mkdtemp(prefix="hmr_torch_loader_")
    try:
        boxes = write_set(root)
        for workers in (1, 2):
            for cache in (False, True):
                loader = torch.utils.data.DataLoader(CropDataset(boxes, cache), batch_size=BATCH, shuffle=True,
                                                     num_workers=workers, drop_last=True, persistent_workers=True,
                                                     prefetch_factor=4)
                for _ in loader:  # warm-up epoch: worker start, and the cache filled
                    pass
                batches, start = 0, time.perf_counter()
                while time.perf_counter() - start < max(args.min_time, 2.0):
                    for _ in loader:
                        batches += 1
                ms = (time.perf_counter() - start) / batches * 1e3
                emit(f"loader_224/workers{workers}/{'cache' if cache else 'decode'}", ms, "ms")
                del loader
    finally:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
