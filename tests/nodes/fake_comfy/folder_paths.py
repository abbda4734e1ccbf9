"""Fake ``folder_paths``: ComfyUI's folders under ``base`` (``set_base`` moves them; the tests use a
temporary directory): ``models/<name>``, ``input``, ``output``."""

import os

supported_pt_extensions = {".ckpt", ".pt", ".pt2", ".bin", ".pth", ".safetensors", ".pkl", ".sft"}
base = models_dir = ""
folder_names_and_paths: dict[str, tuple[list[str], set[str]]] = {}


def set_base(directory: str) -> None:
    global base, models_dir
    base, models_dir = directory, os.path.join(directory, "models")
    folder_names_and_paths.clear()
    folder_names_and_paths["checkpoints"] = ([os.path.join(models_dir, "checkpoints")], supported_pt_extensions)


def add_model_folder_path(folder_name, full_folder_path, is_default=False):
    paths, extensions = folder_names_and_paths.setdefault(folder_name, ([], set()))
    if full_folder_path not in paths:
        paths.insert(0, full_folder_path) if is_default else paths.append(full_folder_path)


def get_filename_list(folder_name):
    paths, extensions = folder_names_and_paths[folder_name]
    names = set()
    for path in paths:
        for root, _, files in os.walk(path):
            names.update(os.path.relpath(os.path.join(root, f), path) for f in files)
    return sorted(n for n in names if not extensions or os.path.splitext(n)[1].lower() in extensions)


def get_full_path(folder_name, filename):
    if folder_name not in folder_names_and_paths:
        return None
    for path in folder_names_and_paths[folder_name][0]:
        full = os.path.join(path, filename)
        if os.path.isfile(full):
            return full
    return None


def get_input_directory():
    return os.path.join(base, "input")


def get_output_directory():
    return os.path.join(base, "output")


def get_annotated_filepath(name, default_dir=None):
    for tag, directory in (("[output]", get_output_directory()), ("[input]", get_input_directory())):
        if name.endswith(tag):
            return os.path.join(directory, name[: -len(tag) - 1])
    return os.path.join(default_dir or get_input_directory(), name)


def get_save_image_path(filename_prefix, output_dir, image_width=0, image_height=0):
    subfolder, filename = os.path.split(os.path.normpath(filename_prefix))
    folder = os.path.join(output_dir, subfolder)
    os.makedirs(folder, exist_ok=True)
    counter = 1 + sum(name.startswith(filename + "_") for name in os.listdir(folder))
    return folder, filename, counter, subfolder, filename_prefix
