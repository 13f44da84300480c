"""What each isolation level stops, attack by attack.

This table is what `agent sandbox check` prints and answer.json records. tests/test_escape_*.py
runs every attack (the test named after its id): one the table says is stopped must be
contained, and one it says is not stopped must be listed as such (and, where it is safe to try,
must really get through), so the table can neither pretend nor undersell. The first group is
model-written code in the jail; the second (issue 9, the trust boundary) is what jailed code and
hostile documents try against the agent process itself: its launcher, the links it might
follow, the LibreOffice it runs, the parsers it must not run, the limits that must add up.

Verdicts: "stopped", "not stopped", or for the process level a pair (as root, as another user),
because the kernel exempts root from the process-count limit and root stays root.
"""

from __future__ import annotations

from dataclasses import dataclass

S, N = "stopped", "not stopped"


@dataclass(frozen=True)
class Attack:
    id: str
    attack: str  # what model-written code (or a model's tool call) tries
    bwrap: str
    process: str | tuple[str, str]  # (as root, as another user) when they differ
    how: str  # what stops it where it is stopped
    gap: str = ""  # why the process level does not stop it, where it does not

    def verdict(self, level: str, as_root: bool) -> str:
        value = getattr(self, level)
        if isinstance(value, tuple):
            return value[0] if as_root else value[1]
        return value


ATTACKS: list[Attack] = [
    Attack(
        "env_api_key",
        "read the API key from its own environment",
        S,
        S,
        "the child's environment is built from nothing; no variable of the caller passes through",
    ),
    Attack(
        "parent_environ",
        "read the parent's environment (/proc/<ppid>/environ), where the API key is",
        S,
        (S, N),
        "bwrap: own PID namespace, the parent seen is bwrap's init with the scrubbed environment. process as root: "
        "the code has no capabilities, and the kernel will not show it the environment of a process that has more",
        gap="same user and same capabilities as the agent: /proc/<ppid>/environ (and the shell's) is readable",
    ),
    Attack(
        "system_secrets",
        "read system secrets (/etc/shadow)",
        S,
        N,
        "/etc is not mounted beyond fonts and linker files",
        gap="root (even without capabilities) still owns root's files",
    ),
    Attack(
        "read_user_home",
        "read a file in the user's home directory",
        S,
        N,
        "not mounted",
        gap="same file system and user as the agent",
    ),
    Attack(
        "read_checkout",
        "read the project checkout (source, .git, .env)",
        S,
        N,
        "only the tools and sandbox packages are mounted, read-only, at /opt/lookclosely",
        gap="same file system and user as the agent",
    ),
    Attack(
        "read_other_run",
        "read another run's home",
        S,
        N,
        "only this run's home is mounted",
        gap="same file system and user as the agent",
    ),
    Attack(
        "write_outside",
        "write a file outside the home",
        S,
        N,
        "everything but the home and a private /tmp is read-only or absent",
        gap="same file system and user as the agent",
    ),
    Attack(
        "write_inputs",
        "overwrite the copies of the user's files in inputs/",
        S,
        N,
        "inputs/, skills/ and share/ are mounted read-only (the user's originals are never touched by either level)",
        gap="the same user owns the copies (the originals stay untouched)",
    ),
    Attack(
        "symlink_in_inputs",
        "follow a symlink planted in inputs/ that points outside the home",
        S,
        N,
        "the target is not mounted, the link dangles",
        gap="the link is followed like any other",
    ),
    Attack(
        "zip_slip",
        "extract an archive whose entries climb out with ../",
        S,
        N,
        "the climbing entries land nowhere writable",
        gap="entries that climb out are written outside the home",
    ),
    Attack(
        "localhost",
        "connect to a server listening on 127.0.0.1 outside",
        S,
        N,
        "own network namespace with only a down loopback",
        gap="the machine's network is shared",
    ),
    Attack(
        "dns",
        "resolve a host name",
        S,
        N,
        "no network interfaces and no resolver configuration",
        gap="the machine's network and resolver are shared",
    ),
    Attack(
        "fork_bomb",
        "fork without end",
        S,
        (N, S),
        "the process-count limit; under bwrap a root caller's code runs as nobody so the kernel applies it",
        gap="the kernel does not apply the process-count limit to root",
    ),
    Attack("memory_bomb", "allocate memory without end", S, S, "address-space limit"),
    Attack("cpu_spin", "spin the CPU forever", S, S, "CPU-time limit, then the wall-clock timeout"),
    Attack("disk_fill_file", "fill the disk with one huge file", S, S, "file-size limit"),
    Attack(
        "disk_fill_many",
        "fill the disk with many files, each under the size limit",
        S,
        S,
        "the home's size is watched while the code runs; past its cap the code is killed",
    ),
    Attack("tmp_fill", "fill /tmp", S, N, "/tmp is a private tmpfs with a size cap", gap="/tmp is the machine's"),
    Attack(
        "output_flood",
        "print without end",
        S,
        S,
        "only the head and tail of each stream are kept, with a note of how much was left out",
    ),
    Attack("sleep_timeout", "sleep past the timeout", S, S, "wall-clock timeout kills the process group"),
    Attack(
        "ignore_sigterm",
        "start a child that ignores SIGTERM",
        S,
        S,
        "the jail kills with SIGKILL, which cannot be ignored",
    ),
    Attack(
        "background_process",
        "leave a process running in the background after the code returns",
        S,
        S,
        "bwrap: the PID namespace dies with the code; process: the process group is killed when the call returns",
    ),
    Attack(
        "double_fork",
        "daemonise (double fork and setsid) to outlive the call",
        S,
        N,
        "the PID namespace dies with the code",
        gap="setsid leaves the process group that is killed; the result says when such a process still holds its output",
    ),
    Attack(
        "kill_parent",
        "signal or kill the agent process (or every process it can: kill -1)",
        S,
        N,
        "the agent is not in the PID namespace",
        gap="the same user may signal the agent",
    ),
    Attack(
        "raise_limits",
        "raise its own limits or regain privileges with ctypes (setrlimit, prctl, setuid)",
        S,
        S,
        "the limits are hard limits; the code has no capabilities (nobody under bwrap, capabilities dropped under process)",
    ),
    Attack(
        "os_system",
        "run shell commands with os.system / subprocess",
        S,
        S,
        "shell children inherit the same environment, limits, process group and namespaces",
    ),
    Attack(
        "tool_dotdot",
        "give a tool a path with '..' that climbs out of the home",
        S,
        S,
        "tool paths are resolved inside the home",
    ),
    Attack("tool_absolute", "give a tool an absolute path", S, S, "tool paths must be relative to the home"),
    Attack(
        "tool_symlink",
        "give a tool a path through a symlink that leads out",
        S,
        S,
        "symlinks are resolved before the check",
    ),
    Attack("tool_nul", "give a tool a path with a NUL byte", S, S, "refused before it reaches the OS"),
    # -- the trust boundary ---------------------------------------------------------------------------
    Attack(
        "planted_module_runs_no_stronger_than_model_code",
        "plant json.py, os.py, encodings/, sitecustomize.py or a .pth in the home for the next call's launcher to import",
        S,
        S,
        "the launcher is `python -I` started in /: nothing of the home is on its path until limits are set and privileges dropped",
    ),
    Attack(
        "model_code_leaves_no_setuid_root_file",
        "leave a set-user-id root file in the home, on the host's disk",
        S,
        S,
        "the code never runs as root with capabilities; set-id bits are cleared on every file of the home after each call",
    ),
    Attack(
        "render_scratch_folder_link",
        "plant a link where render_document used to write its pages (tmp/renders/<name>)",
        S,
        S,
        "renders are made in a scratch folder outside the home",
    ),
    Attack(
        "render_file_links",
        "plant links at the files a render writes (document.pdf, page PNGs)",
        S,
        S,
        "renders are made in a scratch folder outside the home",
    ),
    Attack(
        "check_scratch_folder_link",
        "plant a link where check_document used to work (tmp/check/<name>)",
        S,
        S,
        "checks are made in a scratch folder outside the home",
    ),
    Attack(
        "outputs_swapped_for_host_folder",
        "replace outputs/ with a link to a host folder, to see its files as images and listings",
        S,
        S,
        "the host walks the home from its own descriptors and never enters a link",
    ),
    Attack(
        "outputs_link_then_edit",
        "replace outputs/ with a link so an edit writes into a host folder",
        S,
        S,
        "writes open each folder on the way without following links, and refuse a link",
    ),
    Attack(
        "edit_output_links",
        "plant a link at an edit's output name (outputs/<stem>.edited.pptx) or a folder on the way",
        S,
        S,
        "the result is renamed over the name, replacing a link instead of writing through it",
    ),
    Attack(
        "run_python_listing_ignores_planted_links",
        "plant links in outputs/ for run_python's result to list or show",
        S,
        S,
        "only regular files reached without a link are listed or opened",
    ),
    Attack(
        "export_copies_regular_files_only",
        "plant links in outputs/ for the export to copy host files",
        S,
        S,
        "export_outputs copies regular files reached without a link",
    ),
    Attack(
        "agent_run_out_copies_no_host_file",
        "swap outputs/ for a link to /etc-like folder so `agent run --out` copies it",
        S,
        S,
        "export_outputs copies regular files reached without a link",
    ),
    Attack(
        "fifos_do_not_hang_tools",
        "put FIFOs where tools read, to hang the agent",
        S,
        S,
        "files are opened non-blocking and must be regular files",
    ),
    Attack(
        "skills_link_shows_no_host_file",
        "replace a skills guide with a link to a host file",
        S,
        S,
        "guides are read without following links (and skills/ is read-only under bwrap)",
    ),
    Attack(
        "linked_image_render_tool",
        "render a document whose pictures link to http://127.0.0.1/… or file:///host/…",
        S,
        S,
        "LibreOffice runs in the worker (no network, only its scratch visible) and its profile blocks linked resources",
    ),
    Attack(
        "linked_image_inspect_and_check_tools",
        "inspect or check a document with linked pictures (conversions fetch too)",
        S,
        S,
        "LibreOffice runs in the worker (no network, only its scratch visible) and its profile blocks linked resources",
    ),
    Attack(
        "fetching_fields",
        "fields that fetch when evaluated: WEBSERVICE, INCLUDEPICTURE",
        S,
        S,
        "no network in the worker; the profile never updates links on load",
    ),
    Attack(
        "cli_linked_image",
        "`agent render`, `inspect` or `check` on a document with a linked picture",
        S,
        S,
        "the CLI uses the same jailed worker",
    ),
    Attack(
        "cli_render_draws_no_host_file",
        "draw a host image into a rendered page through a file:// link",
        S,
        S,
        "the worker sees only its scratch folder; the profile blocks file:// links as well",
    ),
    Attack(
        "jail_writes_linked_document",
        "from the no-network jail, write a document with a linked URL and ask for it to be rendered",
        S,
        S,
        "the worker has no network either",
    ),
    Attack(
        "bombs_are_small",
        "documents a few KB to 10 MB that expand to gigabytes",
        S,
        S,
        "parsing happens in the worker, whose budgets end the request",
    ),
    Attack(
        "pdf_bomb_through_tools",
        "a PDF of nested forms or a flate bomb through the document tools",
        S,
        S,
        "the worker's memory budget for its whole process tree; a one-line error, the run goes on",
    ),
    Attack(
        "pdf_bomb_through_cli",
        "the same PDFs through `agent render`, `inspect` and `check`",
        S,
        S,
        "the worker's memory budget; exit 2 with one line",
    ),
    Attack(
        "many_cells_xlsx",
        "a 10 MB workbook with 5 million cells",
        S,
        S,
        "refused by the cell budget before any parser builds it, in the worker",
    ),
    Attack(
        "agent_process_parses_no_document",
        "make the agent process load a document parser at all",
        S,
        S,
        "render, inspect, check, read_text and edits all go through the worker; the agent imports no parser",
    ),
    Attack(
        "memory_cap_covers_the_process_tree",
        "stay under the per-process memory limit in each of many children",
        S,
        S,
        "the whole process tree's resident memory is watched and the group killed past the cap",
    ),
    Attack(
        "sparse_files_count_at_apparent_size",
        "fill the home with sparse files that use no blocks",
        S,
        S,
        "the home is counted at apparent size",
    ),
    Attack(
        "inode_flood_is_caught",
        "fill the home with empty files and folders",
        S,
        S,
        "the home's inodes are counted against a cap",
    ),
    Attack(
        "host_side_write_respects_home_cap",
        "have a tool write (an edit's output) past the home's cap",
        S,
        S,
        "host-side writes check the cap first and write nothing when it would be passed",
    ),
    Attack(
        "render_cache_is_capped",
        "grow the agent's render cache without bound",
        S,
        S,
        "AGENT_CACHE_MAX; least recently used entries are removed",
    ),
    Attack(
        "huge_images_do_not_flood_the_host",
        "return a dozen 89-megapixel images in one result",
        S,
        S,
        "at most 12 images, 40 MP each and 64 MP in all, checked from the header before decoding",
    ),
    Attack(
        "thousands_of_font_families",
        "name thousands of font families so each runs fc-match",
        S,
        S,
        "64 families are checked, in the worker, under its time budget",
    ),
    Attack(
        "deep_folder_tree",
        "build a folder tree a thousand levels deep to break later calls",
        S,
        S,
        "walks are iterative with bounded depth; the home is counted by find, which handles any depth",
    ),
    Attack(
        "jailed_code_dies_with_the_agent",
        "keep running after the agent is killed",
        S,
        S,
        "bwrap: --die-with-parent and the PID namespace; process: a guardian with PR_SET_PDEATHSIG kills the group",
    ),
    Attack(
        "dev_shm_is_capped",
        "fill /dev/shm, memory no per-process limit counts",
        S,
        N,
        "/dev/shm is a private tmpfs with a size cap",
        gap="/dev/shm is the machine's",
    ),
    Attack(
        "utf16_entity_bomb_through_tools",
        "an XML part in UTF-16 without a byte-order mark declaring an entity bomb",
        S,
        S,
        "the DTD scan ignores NUL bytes, so every UTF-16/32 part is read; the worker's budgets besides",
    ),
    Attack(
        "utf16_entity_bomb_through_cli",
        "the same document through `agent inspect`",
        S,
        S,
        "refused with one line, exit 2",
    ),
    Attack(
        "utf16_external_entity",
        "a UTF-16 part with external entities naming host files and URLs",
        S,
        S,
        "refused by the DTD scan; the worker sees no host file and no network",
    ),
    Attack(
        "batch_job_ids_stay_in_their_folders",
        "batch job ids like ../../x or /abs to place cassettes or runs elsewhere",
        S,
        S,
        "ids become safe file names",
    ),
    Attack(
        "past_run_links_are_not_followed",
        "replace a file of the run directory (transcript.jsonl) with a link to a host file for `agent show` to print",
        S,
        S,
        "run directories are read through ConfinedDir: no link is followed, a linked file is a one-line error",
    ),
    Attack(
        "past_run_terminal_escapes_are_not_printed",
        "put terminal escape sequences in a tool text or the answer for `agent show` to send to the user's terminal",
        S,
        S,
        "control characters are replaced before anything is printed",
    ),
    Attack(
        "ray_run_record_links_stay_on_the_worker",
        "leave links (to host folders, host files, /etc) and a FIFO in the home for the driver to follow or "
        "recreate when the Ray runner brings the run record back",
        S,
        S,
        "the worker packs folders and regular files only, read without following links; the driver unpacks no link",
    ),
    Attack(
        "ray_run_record_names_stay_in_the_runs_folder",
        "send back a run-record archive whose names climb out (../x, /abs/x) or name one file twice",
        S,
        S,
        "every name must be a plain relative path, created once from the new run folder's own descriptor; "
        "one bad member refuses the whole archive and leaves no run folder",
    ),
    Attack(
        "ray_run_record_links_in_the_archive_are_refused",
        "send back a run-record archive holding a symlink to a host folder and a file written through it, "
        "a hard link to a host file, a device, a FIFO",
        S,
        S,
        "only folders and regular files are accepted (the standard library's data filter, then our own rules)",
    ),
    Attack(
        "ray_run_record_size_is_capped",
        "send back a run-record archive with more bytes or members than a run can hold, or cut short",
        S,
        S,
        "bytes and members are counted while reading, against the home's caps plus 1 GiB and 20,000 entries",
    ),
    Attack(
        "error_texts_hide_the_home_path",
        "learn where the home is on the host from tool errors",
        S,
        S,
        "tool texts show the home as <home>",
    ),
    Attack(
        "error_texts_hide_the_home_path_with_planted_obstacles",
        "provoke host-side errors with planted files to learn the home's path",
        S,
        S,
        "tool texts show the home as <home>",
    ),
    Attack(
        "run_python_traceback_hides_the_home_path",
        "learn the home's host path from a traceback",
        S,
        S,
        "under bwrap the home is /home/sandbox; at the process level tool texts show it as <home>",
    ),
    # -- agent mcp: files a client names by path (issue 13) ----------------------------------------
    Attack(
        "mcp_add_file_outside_root",
        "through `agent mcp`, add a file by an absolute path outside --root (or ~/…)",
        S,
        S,
        "add_file takes only files whose real path is under --root",
    ),
    Attack(
        "mcp_add_file_dotdot",
        "through `agent mcp`, add ../outside/secret or sub/../../secret",
        S,
        S,
        "the path is resolved (.. and links) before the check against --root",
    ),
    Attack(
        "mcp_add_file_symlink_out_of_root",
        "through `agent mcp`, add a link (or a file in a linked folder) in --root that leads out",
        S,
        S,
        "every link is resolved, and the descriptor opened is checked for where it really is",
    ),
    Attack(
        "mcp_add_file_proc_self_environ",
        "through `agent mcp`, add /proc/self/environ (or a link to it, or to /dev/zero) to read the server's API key",
        S,
        S,
        "outside --root: refused before anything is opened for reading",
    ),
    Attack(
        "mcp_add_file_fifo",
        "through `agent mcp`, add a FIFO in --root to hang the server",
        S,
        S,
        "the file is opened with O_PATH (no open for reading) and must be a regular file",
    ),
    Attack(
        "mcp_add_file_link_swapped_during_the_check",
        "swap a link in --root to a file outside between add_file's check and its open",
        S,
        S,
        "the checks are made on the opened descriptor (its real path from /proc/self/fd), not on the name",
    ),
]

BY_ID = {a.id: a for a in ATTACKS}


def stopped_by(level: str, as_root: bool) -> list[dict[str, str]]:
    return [{"id": a.id, "attack": a.attack, "how": a.how} for a in ATTACKS if a.verdict(level, as_root) == S]


def not_stopped_by(level: str, as_root: bool) -> list[dict[str, str]]:
    return [{"id": a.id, "attack": a.attack, "why": a.gap} for a in ATTACKS if a.verdict(level, as_root) == N]
