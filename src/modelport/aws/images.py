"""The pinned table of SageMaker framework serving images, and how an archive's image is chosen.

Registries and tags are those of the SageMaker Python SDK's ``image_uri_config/sklearn.json`` and
``pytorch.json`` (inference, CPU) for the regions listed here. Extend the table to add regions or
versions; nothing is looked up at run time.
"""

from __future__ import annotations

from dataclasses import dataclass

# scikit-learn: framework version → image tag (repository sagemaker-scikit-learn)
SKLEARN_TAGS = {"0.23": "0.23-1-cpu-py3", "1.0": "1.0-1-cpu-py3", "1.2": "1.2-1-cpu-py3"}
SKLEARN_ACCOUNTS = {
    "us-east-1": "683313688378", "us-east-2": "257758044811", "us-west-1": "746614075791",
    "us-west-2": "246618743249", "ca-central-1": "341280168497", "eu-west-1": "141502667606",
    "eu-west-2": "764974769150", "eu-west-3": "659782779980", "eu-central-1": "492215442770",
    "eu-north-1": "662702820516", "ap-south-1": "720646828776", "ap-northeast-1": "354813040037",
    "ap-northeast-2": "366743142698", "ap-southeast-1": "121021644041", "ap-southeast-2": "783357654285",
    "sa-east-1": "737474898029",
}
# PyTorch: framework version (major.minor) → image tag (repository pytorch-inference, AWS DLC)
PYTORCH_TAGS = {"1.13": "1.13.1-cpu-py39", "2.0": "2.0.1-cpu-py310", "2.1": "2.1.0-cpu-py310",
                "2.2": "2.2.0-cpu-py310", "2.3": "2.3.0-cpu-py311", "2.4": "2.4.0-cpu-py311",
                "2.5": "2.5.1-cpu-py311", "2.6": "2.6.0-cpu-py312"}
PYTORCH_ACCOUNTS = {region: "763104351884" for region in SKLEARN_ACCOUNTS}

FRAMEWORKS = {
    "sklearn": ("sagemaker-scikit-learn", SKLEARN_TAGS, SKLEARN_ACCOUNTS, "scikit-learn"),
    "pytorch": ("pytorch-inference", PYTORCH_TAGS, PYTORCH_ACCOUNTS, "torch"),
}


class ImageError(ValueError):
    """No serving image fits an archive; the message says why and what would."""


@dataclass(frozen=True)
class ImageChoice:
    """The image an archive runs in, and why."""

    uri: str
    framework: str
    framework_version: str
    reason: str


def _major_minor(version: str) -> str:
    return ".".join(version.split("+")[0].split(".")[:2])


def _sort_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def image_uri(framework: str, version: str, region: str) -> str:
    """The image URI of ``framework`` at table version ``version`` (major.minor) in ``region``."""
    repository, tags, accounts, _ = FRAMEWORKS[framework]
    if region not in accounts:
        raise ImageError(f"no {framework} serving image is pinned for region {region}; "
                         f"pinned regions: {', '.join(sorted(accounts))}")
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{accounts[region]}.dkr.ecr.{region}.{suffix}/{repository}:{tags[version]}"


def choose_image(framework: str, library_version: str | None, pinned: bool, region: str) -> ImageChoice:
    """The image for an archive trained with ``library_version`` of the framework's library.

    An exact major.minor match wins. Otherwise, when the archive pins the library in
    code/requirements.txt (``pinned``), the newest image is used and its container installs the pin at
    start-up. Otherwise the archive is refused: it would load with a different library version.
    """
    if framework not in FRAMEWORKS:
        raise ImageError(f"framework {framework!r} has no serving image; use sklearn or pytorch")
    _, tags, _, library = FRAMEWORKS[framework]
    supported = ", ".join(sorted(tags, key=_sort_key))
    if library_version and _major_minor(library_version) in tags:
        version = _major_minor(library_version)
        return ImageChoice(image_uri(framework, version, region), framework, version,
                           f"{library} {library_version} matches the {framework} {version} image")
    newest = max(tags, key=_sort_key)
    if pinned:
        return ImageChoice(image_uri(framework, newest, region), framework, newest,
                           f"no {framework} image for {library} {library_version}; the newest ({newest}) "
                           f"installs the pinned {library}=={library_version} from code/requirements.txt")
    found = f"{library} {library_version}" if library_version else f"an unknown {library} version"
    raise ImageError(f"the archive was made with {found}, which has no {framework} serving image "
                     f"(images exist for {supported}), and code/requirements.txt does not pin {library}. "
                     f"Pin it (e.g. `{library}=={library_version or 'X.Y.Z'}` in code/requirements.txt) so the "
                     "container installs it, or retrain with a supported version.")


def framework_of_image(uri: str) -> str | None:
    """The framework (``sklearn`` / ``pytorch``) of a SageMaker framework image URI, else None.

    Matches the repository of any registry, region and tag, e.g. the SDK's
    ``sagemaker.image_uris.retrieve("pytorch", …)`` →
    ``763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1-cpu-py310``.
    """
    path = uri.split("@", 1)[0]
    repository = path.rsplit(":", 1)[0] if ":" in path.rsplit("/", 1)[-1] else path
    repository = repository.rsplit("/", 1)[-1]
    for framework, (name, *_rest) in FRAMEWORKS.items():
        if repository == name:
            return framework
    return None
