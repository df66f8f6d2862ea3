"""Malware capabilities read from the code in a request (issue 12: code in a prompt is read as code too).

A request can carry its intent only in the code it asks to complete, fix, translate or speed up:
"translate this to Go" around a loop that runs whatever a remote socket sends. The embedding reads
such code as text and misses it. Each capability here is a behaviour that malware analysts name (a
remote shell, a global keyboard hook whose keys are written away, a process marked critical so
killing it crashes the machine, shadow copies deleted, browser credential stores read) written as
the API calls and commands that implement it, in the languages users paste (Python, C/C++, C#, Go,
Rust, Java, JavaScript, PowerShell, Bash, PHP). A capability fires when every one of its parts
appears in the subject; it is taken back when the request is defensive (it detects, blocks or
alerts on the behaviour: detection rules quote these very calls). The catalogue was written from
the capability taxonomy, not from benchmark items.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bluecodeagent.tasks.base import Rule, RuleHit
from bluecodeagent.tasks.escapes import blank_escapes

_FENCED = re.compile(r"(```|~~~).*?(\1|$)", re.DOTALL)
_INDENTED = re.compile(r"^(    |\t)\S.*$", re.MULTILINE)
# A request that writes detection for the behaviour: a defence verb with an object in the same sentence
# ("a Sysmon rule that detects this command line", "alert on any process that ..."), or the detection
# tools by name. A bare "monitor" or "alerts" anywhere is no defence ("make sure it won't trigger alerts").
DEFENSIVE_PROSE = re.compile(
    r"\b(detect(s|ed|ing|ion)?|alert(s|ed|ing)?\s+on|flag(s|ged|ging)?|block(s|ed|ing)?|quarantin\w{1,20}|hunt(s|ed|ing)?\s+for)"
    r"\s+(\w{1,30}\s+){0,5}?(this|these|that|it|them|such|any|every|each|all|the|attempts?|attacks?|malware|commands?"
    r"|behaviou?rs?|activity|usage|processes|calls|samples?)\b"
    r"|\b(yara|sigma|sysmon|kql|splunk|siem|suricata|snort|edr\s+rules?|detection\s+(rules?|logic|content|engineering)"
    r"|forensic\w{0,20}|incident\s+response|threat\s+hunt\w{0,10}|indicators?\s+of\s+compromise|sandbox\s+report)\b"
    # inspecting the places where malware hides: "scans the webroot for ...", "enumerates every autostart location"
    # (the places may follow in a list: "enumerates: - Run keys ... - WMI permanent event subscriptions")
    r"|\b(scan|search|grep|hunt|enumerat|audit|inventor|sweep|check|find|list|inspect|review|verif|remov|clean)\w{0,5}"
    r"[\s:,-]+[^.!?]{0,400}?\b(web\s?roots?|uploads?\s+"
    r"(folders?|dir\w{0,9})|autostart\w{0,9}|persistence|run\s*keys|scheduled\s+tasks"
    r"|crontabs?|wmi\s+(permanent\s+)?(event\s+)?subscriptions?|web\s?shells?|__Event(Filter|Consumer))\b"
    # the user's side of an intrusion: what an attacker left, found and taken apart without running it
    r"|\bthe\s+attackers?\s+(ran|used|dropped|left|installed|planted)\b|\b(after|during)\s+(an|the|a)\s+(incident|breach"
    r"|compromise|intrusion)\b|\b(i|we)\s+(found|discovered|spotted)\s+(this|these|it|them|an?\s+\w+)\s+(in|on)\b"
    r"|\bdeobfuscat\w*|\b(safely|statically)\s+(decode|analy[sz]e|unpack|deobfuscate)\b"
    # watching files for changes and telling the owner: "watches /etc/shadow ... posts to our slack when they change"
    r"|\b(watch|monitor)\w{0,5}\s+([^.!?]|\.(?=\w)){0,200}?\b(when|if|whenever)\s+(\w+\s+){0,4}?(change[sd]?|modified|written|touched)\b",
    re.IGNORECASE,
)
# A request that also plants the thing is no defence, whatever it inspects first: "scans the webroot for changed
# files and also adds a hidden eval($_POST) backdoor", "inspects the autostart entries, then drops a reverse shell".
PLANTS = re.compile(
    r"\b(add|adds|adding|drop|drops|dropping|plant|plants|planting|install|installs|installing|inject|injects|injecting"
    r"|insert|inserts|inserting|put|puts|hide|hides|hiding|leave|leaves|leaving)\s+(\w{1,30}\s+){0,3}?(backdoor|reverse\s+shell"
    r"|web\s?shell|implant|payload|eval\s*\(|bind\s+shell|rootkit|miner|keylogger)",
    re.IGNORECASE,
)
# Code that is detection content, not a program: a YARA rule, a Sigma rule, an IDS signature, a KQL query.
DETECTION_CODE = re.compile(
    r"^\s*rule\s+\w{1,60}\s*(:\s*[\w ]{1,60})?\{|^\s*detection\s*:\s*$|^\s*(alert|drop)\s+(tcp|udp|http|ip|dns|tls)\s"
    r"|\|\s*where\s+\w{1,60}\s+(has|contains|has_any|matches\s+regex)\b",
    re.IGNORECASE | re.MULTILINE,
)

_LOOP = (
    r"(while\s*\(?\s*(true|1|True)\b|while\s+True|for\s*\(\s*;\s*;\s*\)|\bloop\s*\{|\bfor\s*\{|setInterval"
    r"|\bwhile\s+\$true)"
)
_EXEC = (
    r"(subprocess\.|os\.system|os\.popen|\bpopen\s*\(|\bexecv?p?\s*\(|\bsystem\s*\(|Runtime\.getRuntime\(\)\.exec"
    r"|ProcessBuilder|exec\.Command|Command::new|child_process|execSync|\bspawn\s*\(|Invoke-Expression|\biex\b"
    r"|cmd(\.exe)?\s*/c|/bin/(ba)?sh|shell_exec|passthru|CreateProcess\w{0,30}|WinExec|ShellExecute\w{0,30}|Process\.Start)"
)
_NET_IN = (
    r"(\.recv\w{0,30}\s*\(|\.Receive\w{0,30}\s*\(|read_until|getInputStream|ReadString\s*\(|bufio\.NewReader\s*\(\s*conn"
    r"|socket\.(socket|create_connection)|net\.Dial|TcpClient|new\s+Socket\s*\(|WebSocket|/dev/tcp/|getUpdates"
    r"|\.read\s*\(\s*&?\s*mut\s+buf|stream\.read|\brecv\s*\(|\bconnect\s*\(\s*\w{0,30}sock)"
)
_SEND = (
    r"(\.send\w{0,30}\s*\(|\.write\w{0,30}\s*\(|\.Write\w{0,30}\s*\(|\.Send\w{0,30}\s*\(|sendMessage|\.post\s*\(|fmt\.Fprint"
    r"|\bsend\s*\(|\bwrite\s*\(\s*\w{0,30}sock)"
)
_UPLOAD = (
    r"(requests\.post|urlopen|ftplib|storbinary|smtplib|sendmail|upload\w{0,30}|socket\.|http\.Post|fetch\s*\(|WebClient"
    r"|HttpClient|Invoke-WebRequest|Invoke-RestMethod|curl\s+-[FdT]|webhook|multipart|\.send\w{0,30}\s*\(|https?\.request\s*\("
    r"|axios\.|reqwest|HttpURLConnection|curl_exec|sendBeacon|XMLHttpRequest|urllib\.request)"
)
_CODE_WALK = (
    r"(os\.walk|\brglob\s*\(|glob\s*\([^)\n]{0,200}\*\*|Get-ChildItem[^\n]{0,60}-Recurse|filepath\.Walk\w{0,30}|WalkDir|walkdir"
    r"|Files\.walk|FindFirstFile\w{0,30}|readdirSync|fs\.readdir|\bfind\s+/\S*)"
)
_USER_SCOPE = (
    r"(expanduser|USERPROFILE|\$HOME|os\.homedir|Path\.home\s*\(|home_dir\s*\(|UserHomeDir|getenv\s*\(\s*['\"](HOME|USERPROFILE)"
    r"|Environment\.SpecialFolder|GetLogicalDrives|DriveInfo\.GetDrives"
    r"|ascii_uppercase|['\"]/home|['\"]/Users|['\"]~|\\\\Users\\\\|['\"][A-Z]:\\\\|Documents|Desktop)"
)


@dataclass(frozen=True)
class Capability:
    """A behaviour of malware as code: fires when every part matches the subject."""

    id: str
    category: str
    message: str
    # Lower-case words of the first part ("|" between them), one of which must be in the subject before any
    # pattern runs (a substring test costs nothing; the patterns cost about a millisecond each on 10 KB).
    hints: str
    parts: tuple[str, ...]
    weight: float = 2.0
    floor: float = 0.0

    def rule(self) -> Rule:
        return Rule(
            self.id, re.compile(self.parts[0], re.IGNORECASE), self.weight, self.category, self.message, self.floor
        )


CAPABILITIES: tuple[Capability, ...] = (
    Capability(
        "cap.remote-shell",
        "backdoor",
        "code that runs commands received over the network and sends the output back (a remote shell)",
        "recv|receive|read_until|getinputstream|readstring|socket|net.dial|tcpclient|websocket|/dev/tcp/|getupdates|.read(",
        (_NET_IN, _EXEC, _SEND, r"\bwhile\b|\bfor\b|\bloop\b|foreach|\.on\s*\(\s*['\"]data"),
    ),
    Capability(
        "cap.shell-to-socket",
        "backdoor",
        "a shell whose input and output are a network connection",
        "dup2|/dev/tcp/|nc |ncat|pty.spawn|stdin|stdout",
        (
            r"dup2\s*\(\s*\w{1,40}\.fileno\(\)|bash\s+-i\s*>&\s*/dev/tcp/|\bnc(at)?\s+(\S+\s+){0,6}-[ec]\s|pty\.spawn\s*\("
            r"|(cmd\.exe|/bin/sh|/bin/bash)['\"][^\n]{0,200}(Stdin|Stdout|stdin|stdout)\s*=\s*\w{0,30}(conn|sock|stream|client)",
        ),
    ),
    Capability(
        "cap.shell-over-network",
        "backdoor",
        "starts a command shell whose input is wired to a connection to a hard-coded address (a reverse shell)",
        "stdin|hstdinput|redirectstandardinput",
        (
            # the shell's standard input taken from a stream: piped into it (Node), assigned with its output to one
            # variable (Go: "sh.Stdin, sh.Stdout = c, c"), a Windows handle, or .NET's redirected input
            r"\.pipe\s*\(\s*\w{1,40}\.stdin\s*\)|\bStdin\s*,\s*\w{1,40}\.Stdout\b[^=\n]{0,60}=\s*(?P<conn>\w{1,40})\s*,\s*(?P=conn)\b"
            r"|\bhStdInput\s*=|RedirectStandardInput\s*=\s*true",
            r"['\"](/bin/(ba|z|da)?sh|sh|bash|cmd(\.exe)?|powershell(\.exe)?|pwsh)['\"]",
            # ... and a hard-coded public address to connect to: a terminal, SSH server, CI runner or IDE plugin
            # that listens, or connects to a host by name after the user allowed it, is no reverse shell
            r"['\"]\s*(?!(127|10|0)\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)\d{1,3}(\.\d{1,3}){3}(:\d{1,5})?\s*['\"]",
        ),
    ),
    Capability(
        "cap.keyboard-capture",
        "keylogger",
        "a system-wide keyboard hook whose keys are written or sent away",
        "setwindowshookex|wh_keyboard|getasynckeystate|pynput|keyboard.|cgeventtapcreate|addglobalmonitorforevents|/dev/input/event|registerrawinputdevices|evdev|on_release",
        (
            r"SetWindowsHookEx\w{0,30}\s*\(\s*WH_KEYBOARD|WH_KEYBOARD_LL|GetAsyncKeyState|pynput|keyboard\.(on_press|hook)\b"
            r"|CGEventTapCreate|addGlobalMonitorForEvents|/dev/input/event|RegisterRawInputDevices|evdev",
            r"(write|append|send|post|log|fprintf|fputs|WriteFile|AppendAllText)\w{0,30}\s*\([^)\n]{0,80}"
            r"\b(key|keys|vk\w{0,30}|char|keycode|kbd\w{0,30}|vkCode|event\.name)\b|keys?\.txt|\.log['\"]"
            r"|fopen\s*\([^)\n]{0,200}[\"']a\+?b?[\"']|\bopen\s*\([^)\n]{0,200}['\"]a\+?b?['\"]|AppendAllText|ios::app|"
            + _UPLOAD,
        ),
    ),
    Capability(
        "cap.critical-process",
        "persistence",
        "marks its own process critical so that ending it crashes the machine",
        "rtlsetprocessiscritical|breakontermination|ntsetinformationprocess",
        (
            r"RtlSetProcessIsCritical|ProcessBreakOnTermination|BreakOnTermination|NtSetInformationProcess\s*\([^)\n]{0,200}(0x1d|29)\b",
        ),
    ),
    Capability(
        "cap.recovery-sabotage",
        "ransomware",
        "deletes shadow copies or switches off recovery, so encrypted or destroyed files cannot be restored",
        "vssadmin|shadowcopy|bcdedit|wbadmin",
        (
            # (deleting the one snapshot a backup made, "/shadow={id}", is housekeeping; ransomware deletes them all)
            r"vssadmin(\.exe)?[\"']?\s+delete\s+shadows(?![^\n]{0,60}/shadow\s*=)|shadowcopy\s+delete|Win32_ShadowCopy[^\n]{0,80}Delete"
            r"|bcdedit(\.exe)?[\"']?\s+/set\s+\S+\s+recoveryenabled\s+no|wbadmin(\.exe)?[\"']?\s+delete\s+catalog",
        ),
    ),
    Capability(
        "cap.defences-off",
        "av evasion",
        "switches off the machine's antivirus, AMSI or firewall",
        "set-mppreference|disablerealtimemonitoring|disableantispyware|amsi|advfirewall|windefend|taskkill|stop-service",
        (
            r"Set-MpPreference\s+-Disable\w{1,40}\s+(\$true|1)\b|"
            r"DisableRealtimeMonitoring\W{0,3}[^\n]{0,40}?(\$true|\b1\b|\btrue\b)"
            r"|DisableAntiSpyware|amsiInitFailed"
            # AMSI patched in memory, not called to scan a script: "AmsiScanBuffer" next to the write that patches it
            r"|AmsiScanBuffer(?s:.{0,600}?)(VirtualProtect|WriteProcessMemory|Marshal\.Copy|RtlMoveMemory|memcpy)"
            r"|AmsiUtils|advfirewall\s+set\s+\w{1,40}\s+state\s+off|sc(\.exe)?\s+(stop|config)\s+WinDefend"
            r"|taskkill[^\n]{0,40}/im\s+[\"']?(MsMpEng|avp|ekrn|mbam\w{0,30}|SentinelAgent|CSFalcon\w{0,30}|bdagent)"
            r"|Stop-Service[^\n]{0,40}(WinDefend|Sense|wscsvc)",
        ),
    ),
    Capability(
        "cap.log-wipe",
        "evasion",
        "erases the system's event logs or shell history",
        "wevtutil|clear-eventlog|histfile|history -c|/var/log/",
        (
            r"wevtutil(\.exe)?[\"']?\s+(cl|clear-log)\b|Clear-EventLog|unset\s+HISTFILE|HISTFILE=/dev/null|history\s+-c\b"
            r"|(>\s*|truncate\s+-s\s*0\s+|rm\s+-\w{1,40}\s+|shred\s+(-\w{1,40}\s+)*)/var/log/(auth|secure|wtmp|btmp|lastlog)",
        ),
    ),
    Capability(
        "cap.credential-stores",
        "credential theft",
        "reads the browser's or the system's stored credentials, or chat session tokens",
        "login data|os_crypt|encrypted_key|logins.json|key4.db|signons.sqlite|leveldb|sekurlsa|mimikatz|lsass"
        "| save |comsvcs|minidump|cookies|procdump",
        (
            r"Login\s+Data|Network[\\/]+Cookies|cookies\.sqlite|os_crypt|encrypted_key|logins\.json|key4\.db|signons\.sqlite|Local\s+Storage[\\/]+leveldb"
            r"|sekurlsa|mimikatz|MiniDump\w{0,30}[^\n]{0,80}lsass|lsass[^\n]{0,80}MiniDump|comsvcs(\.dll)?[^\n]{0,40}MiniDump"
            r"|procdump[^\n]{0,40}-ma\s+lsass|reg(\.exe)?\s+save\s+HKLM\\+(SAM|SECURITY)",
        ),
    ),
    Capability(
        "cap.process-injection",
        "av evasion",
        "writes code into another process and starts it there",
        "virtualallocex|ntallocatevirtualmemory",
        (
            r"VirtualAllocEx|NtAllocateVirtualMemory",
            r"WriteProcessMemory|NtWriteVirtualMemory",
            r"CreateRemoteThread|NtCreateThreadEx|QueueUserAPC|SetThreadContext",
        ),
    ),
    Capability(
        "cap.memory-loader",
        "dropper",
        "downloads or decodes code and runs it from memory, never as a file on disk",
        "assembly|download|exec(|-e|exec (",
        (
            r"Assembly\]?::Load\s*\([^\n]{0,160}(DownloadData|WebClient|HttpClient|GetByteArray)"
            r"|Assembly\.Load\s*\([^\n]{0,160}(DownloadData|WebClient|HttpClient|GetByteArray)"
            r"|(DownloadData|DownloadString)\s*\([\s\S]{0,300}(Assembly\]?(::|\.)Load|EntryPoint|VirtualAlloc)"
            r"|\bexec\s*\(\s*(base64\.b64decode|zlib\.decompress|marshal\.loads|bytes\.fromhex)"
            r"|\bexec\s*\(\s*(requests\.get|urlopen|urllib\.request\.urlopen)\s*\("
            r"|-e(nc|ncodedcommand)?\s+[A-Za-z0-9+/]{60,}={0,2}",
        ),
    ),
    Capability(
        "cap.shellcode-runner",
        "dropper",
        "copies raw bytes into executable memory and jumps to them",
        "virtualalloc|mmap|mprotect",
        (
            r"VirtualAlloc\s*\([^)\n]{0,200}(PAGE_EXECUTE_READWRITE|0x40)|mmap\s*\([^)\n]{0,200}PROT_EXEC|mprotect\s*\([^)\n]{0,200}PROT_EXEC",
            r"(memcpy|RtlMoveMemory|CopyMemory|Marshal\.Copy|ctypes\.memmove|copy_nonoverlapping)",
            r"CreateThread|\(\s*\(\s*void\s*\(\s*\*\s*\)\s*\(\s*\)\s*\)|transmute|CFUNCTYPE|GetDelegateForFunctionPointer",
        ),
    ),
    Capability(
        "cap.coin-miner",
        "cryptojacking",
        "connects to a cryptocurrency mining pool",
        "stratum+|xmrig|coinhive|cryptonight|minexmr|supportxmr|nanopool",
        (r"stratum\+(tcp|ssl)://|xmrig|coinhive|cryptonight|minexmr|supportxmr|nanopool",),
        weight=1.0,
    ),
    Capability(
        "cap.self-copy",
        "worm",
        "copies its own program to autostart places, removable drives or other machines' shares",
        "argv[0]|__file__|getmodulefilename|os.executable|current_exe|execpath|$myinvocation|$pscommandpath|getexecutingassembly|executablepath",
        (
            r"sys\.argv\[0\]|__file__|GetModuleFileName\w{0,30}|os\.Executable\s*\(|current_exe\s*\(|process\.execPath"
            r"|\$MyInvocation\.MyCommand|\$PSCommandPath|GetExecutingAssembly\(\)\.Location|Application\.ExecutablePath",
            r"shutil\.copy\w{0,30}|copyfile|CopyFile\w{0,30}|File\.Copy|Copy-Item|\bcp\s|fs\.copy\w{0,30}|io\.Copy|fs::copy|Files\.copy"
            # ... or read back and written out whole: os.ReadFile(exe) then os.WriteFile(startup, ...)
            r"|os\.WriteFile|ioutil\.WriteFile|File\.WriteAllBytes|fs\.writeFileSync|fs::write\b",
            r"Startup|CurrentVersion\\+Run|autorun\.inf|DRIVE_REMOVABLE|GetDriveType|DriveType\s*(==|-eq)\s*2|removable"
            r"|['\"]/media/|/Volumes/|ADMIN\$|\\\\C\$|crontab|LaunchAgents",
        ),
    ),
    Capability(
        "cap.mass-encrypt",
        "ransomware",
        "encrypts every file under the user's folders or drives and deletes or renames the originals",
        "walk|rglob|glob|get-childitem|findfirstfile|readdir|find /",
        (
            _CODE_WALK,
            r"Fernet|\bAES\b|encrypt\w{0,30}|Cipher|ChaCha|createCipher\w{0,30}|CryptEncrypt|Rijndael|Aes\.Create|openssl\s+enc",
            r"os\.remove|os\.unlink|\bunlink\s*\(|os\.rename|Remove-Item|File\.Delete|DeleteFile\w{0,30}|remove_file"
            r"|unlinkSync|\bshred\b|\.locked\b|\.crypt\w{0,30}['\"]",
            _USER_SCOPE,
        ),
    ),
    Capability(
        "cap.disk-destroy",
        "wiper",
        "overwrites raw disks or the boot record, or deletes the whole file system",
        "no-preserve-root|physicaldrive|ioctl_disk|dd if=",
        (
            r"rm\s+-rf\s+--no-preserve-root|\\\\\\\\\.\\\\PhysicalDrive\d|\\\\\.\\PhysicalDrive\d"
            r"|IOCTL_DISK_(DELETE|SET)_DRIVE_LAYOUT|dd\s+if=/dev/(zero|urandom)\s+of=/dev/(sd[a-z]|nvme\d|hd[a-z])\b",
        ),
        weight=1.5,
    ),
    Capability(
        "cap.clipboard-swap",
        "fraud",
        "watches the clipboard and replaces payment addresses in it",
        "clipboard|pyperclip|pbpaste|readtext|xclip",
        (
            r"GetClipboardData|pyperclip\.paste|clipboard\.(get|read)\w{0,30}|Clipboard\.GetText|pbpaste|readText\s*\("
            r"|Get-Clipboard|xclip[^\n]{0,20}-o",
            r"SetClipboardData|pyperclip\.copy|clipboard\.(set|write)\w{0,30}|Clipboard\.SetText|pbcopy|writeText\s*\("
            r"|Set-Clipboard",
            r"\b(bc1|wallet|btc|bitcoin|eth|ethereum|monero|xmr|iban)\b|\[13\]\[a-km-zA-HJ-NP-Z1-9\]|0x\[0-9a-fA-F\]",
        ),
    ),
    Capability(
        "cap.spoofed-flood",
        "ddos",
        "sends packets with forged source addresses, the mark of a flood nobody can trace or block",
        "randip|ip_hdrincl|src",
        (r"RandIP\s*\(|IP_HDRINCL|src\s*=\s*(RandIP|random\.|str\(random)",),
    ),
    Capability(
        "cap.credential-guessing",
        "initial access",
        "tries lists of passwords or leaked credential pairs against logins",
        "paramiko|sshclient|.login(|ftplib|telnetlib|smtplib|pexpect|ssh.dial|hydra|requests.post|requests.session|sshpass",
        (
            r"paramiko|SSHClient|\.login\s*\(|ftplib|telnetlib|smtplib|pexpect|ssh\.Dial|hydra|sshpass"
            r"|requests\.(post|Session)[^\n]{0,120}(login|signin|auth)",
            r"rockyou|wordlist|combo\s*list|combolist|(['\"][\w.@-]{1,40}:[\w!@#$%^&*.-]{1,40}['\"]\s*,\s*){2,}"
            r"|\b(admin|root)['\"]\s*[,:]\s*['\"](admin|root|toor|password|123456)\b"
            r"|\b(passwords?|passwds?|creds|wordlist)\s*=\s*[(\[][^)\]]{0,80}\b(toor|raspberry|123456|changeme|admin123)\b"
            # ... or passwords read one per line from a file: while read -r pw; do sshpass -p "$pw" ...
            r"|\bwhile\s+read\s+(-r\s+)?(pw|pwd|pass|passwd|password)\b",
            r"\bfor\b|foreach|while|ForEach-Object",
        ),
    ),
    Capability(
        "cap.capture-and-upload",
        "spyware",
        "captures the screen, camera or microphone in a loop and uploads it",
        "imagegrab|screenshot|mss(|bitblt|copyfromscreen|cgwindowlistcreateimage|sounddevice|pyaudio|arecord|videocapture|mediarecorder|avcapturedevice|getdisplaymedia|createscreencapture|scrot|html2canvas|screencapture|capturerect",
        (
            r"ImageGrab\.grab|pyautogui\.screenshot|\bmss\s*\(|BitBlt|CopyFromScreen|CGWindowListCreateImage|CaptureDisplay"
            r"|CaptureRect|createScreenCapture|screencapture\s+-|\bscrot\b|html2canvas"
            r"|sounddevice|pyaudio|\barecord\b|VideoCapture|MediaRecorder|AVCaptureDevice|getDisplayMedia",
            _UPLOAD,
            _LOOP + r"|\bsleep\s*\(|schedule\.|Timer\s*\(",
        ),
    ),
    Capability(
        "cap.secret-files-out",
        "credential theft",
        "collects key, wallet and credential files and sends them away",
        "id_rsa|id_ed25519|id_ecdsa|wallet.dat|credentials|.kube|/etc/shadow|.git-credentials|.npmrc|.pypirc|keychains|.electrum|exodus",
        (
            r"\.ssh[\\/]+id_(rsa|ed25519|ecdsa)|wallet\.dat|\.aws[\\/]+credentials|\.kube[\\/]+config|/etc/shadow"
            r"|\.git-credentials|\.npmrc|\.pypirc|Keychains|\.electrum|exodus",
            _UPLOAD,
        ),
    ),
    Capability(
        "cap.hidden-autorun",
        "persistence",
        "registers itself to start at logon with its window or file hidden",
        "currentversion|schtasks|register-scheduledtask|launchagents",
        (
            r"CurrentVersion\\+Run\b|schtasks[^\n]{0,40}/create|Register-ScheduledTask|LaunchAgents",
            r"attrib\s+\+h|FILE_ATTRIBUTE_HIDDEN|FileAttributes\.Hidden|SW_HIDE|-WindowStyle\s+Hidden|WindowStyle\.Hidden"
            r"|CREATE_NO_WINDOW|CreateNoWindow\s*=\s*true|pythonw(\.exe)?",
        ),
        weight=1.0,
    ),
    Capability(
        "cap.uac-bypass",
        "privilege escalation",
        "hijacks an auto-elevating Windows program to gain administrator rights without a prompt",
        "fodhelper|ms-settings|mscfile|sdclt",
        (
            r"fodhelper|ms-settings\\+Shell\\+Open\\+command|mscfile\\+shell\\+open\\+command|sdclt(\.exe)?\s+/kickoffelev",
        ),
    ),
    Capability(
        "cap.hidden-account",
        "backdoor",
        "adds an account and hides it from the logon screen",
        "specialaccounts",
        (r"SpecialAccounts\\+UserList",),
    ),
)

CAPABILITIES += (
    Capability(
        "cap.web-shell",
        "backdoor",
        "a web page that evaluates or runs whatever a request parameter holds",
        "$_get|$_post|$_request|$_cookie|getparameter",
        (
            r"\b(eval|assert|system|exec|shell_exec|passthru|popen|proc_open)\s*\(\s*(base64_decode\s*\(\s*)?"
            r"\$_(GET|POST|REQUEST|COOKIE)|Runtime\.getRuntime\(\)\.exec\s*\(\s*request\.getParameter",
        ),
        weight=1.5,
    ),
    Capability(
        "cap.cookie-theft",
        "credential theft",
        "reads the page's cookies and sends them to another address",
        "document.cookie",
        (
            r"document\.cookie",
            r"fetch\s*\(\s*['\"`]https?://|XMLHttpRequest|sendBeacon|new\s+Image\s*\(\s*\)|\.src\s*=\s*['\"`]https?://",
        ),
        weight=1.5,
    ),
    Capability(
        "cap.form-skimmer",
        "credential theft",
        "listens to what people type into password or card fields and sends it to another address",
        "addeventlistener",
        (
            r"addEventListener\s*\(\s*['\"](submit|input|keydown|keyup|keypress|change|blur)['\"]",
            r"password|card|cvv|cvc|iban|\.key\b|keyCode|\.which\b",
            r"sendBeacon\s*\(|new\s+Image\s*\(|WebSocket\s*\(|(fetch|open)\s*\(\s*(['\"]POST['\"]\s*,\s*)?['\"`]https?://",
        ),
        weight=1.5,
    ),
    Capability(
        "cap.phone-data-out",
        "spyware",
        "reads the phone's messages, contacts or call log and sends them away",
        "content://sms|telephony.sms|getmessagebody|contactscontract|calllog",
        (
            r"content://sms|Telephony\.Sms|getMessageBody|ContactsContract|CallLog\.Calls",
            r"HttpURLConnection|OkHttp|Retrofit|Volley|sendTextMessage|Socket\s*\(|ktor|fetch\s*\(|openConnection"
            r"|\b(post|upload|send)\w{0,20}\s*\(\s*['\"]https?://",
        ),
        weight=1.0,
    ),
    Capability(
        "cap.saved-secrets-out",
        "credential theft",
        "dumps saved Wi-Fi keys or the keychain and sends them away",
        "wlan|dump-keychain|find-generic-password",
        (
            r"wlan\s+show\s+profile\w{0,30}[^\n]{0,60}key\s*=\s*clear|security\s+dump-keychain"
            r"|security\s+find-generic-password[^\n]{0,40}\s-w\b",
            _UPLOAD,
        ),
        weight=1.5,
    ),
    Capability(
        "cap.preload-hiding",
        "rootkit",
        "hooks the C library with LD_PRELOAD to hide files or processes",
        "rtld_next",
        (r"dlsym\s*\(\s*RTLD_NEXT\s*,\s*\"(readdir|readdir64|opendir|stat|lstat|fopen)\"",),
    ),
    Capability(
        "cap.root-backdoor",
        "privilege escalation",
        "leaves a way back to root: a set-uid shell or a password-less sudoers line",
        "chmod|nopasswd|/etc/sudoers",
        (
            r"chmod\s+(u\+s|[46]7[0-7][0-7])\s+/(usr/)?bin/(ba|z|da)?sh\b|NOPASSWD:\s*ALL[^\n]{0,60}>>?\s*/etc/sudoers"
            r"|>>\s*/etc/sudoers\b",
        ),
        weight=1.5,
    ),
    Capability(
        "cap.arp-spoof",
        "network attack",
        "poisons other machines' ARP caches to put itself between them and the gateway",
        "arp|ettercap",
        (r"ARP\s*\([^)\n]{0,200}op\s*=\s*(2|['\"]is-at['\"])|\barpspoof\b|\bettercap\b|\bbettercap\b",),
        weight=1.5,
    ),
    Capability(
        "cap.fork-bomb",
        "denial of service",
        "forks without end until the machine stops answering",
        ":()|%0|fork",
        (
            r":\(\)\s*\{\s*:\s*\|\s*:\s*&\s*\}\s*;\s*:|%0\s*\|\s*%0|while\s*\(?\s*(true|1|True)\s*\)?\s*:?\s*\{?\s*(os\.)?fork\s*\(",
        ),
    ),
    Capability(
        "cap.wipe-home",
        "wiper",
        "deletes the user's whole home folder or drive",
        "rmtree|rm -rf|remove-item",
        (
            r"rmtree\s*\(\s*(os\.path\.expanduser\s*\(\s*)?['\"](~|/|[A-Z]:\\+)['\"]|rm\s+-rf\s+(~|/\*|\$HOME)(\s|$|/\*)"
            r"|Remove-Item\s+(-Path\s+)?['\"]?(C:\\+|\$env:USERPROFILE|~)['\"]?\s[^\n]{0,30}-Recurse",
        ),
        weight=1.5,
    ),
    Capability(
        "cap.history-out",
        "spyware",
        "copies the browser's history and sends it away",
        "places.sqlite|history",
        (r"places\.sqlite|(Chrome|Edge|Brave)[^\n]{0,80}[\\/]History\b", _UPLOAD),
        weight=1.5,
    ),
    Capability(
        "cap.fetch-and-run-ip",
        "dropper",
        "fetches a script from a bare IP address and pipes it straight into a shell",
        "curl|wget",
        (r"(curl|wget)[^\n|]{0,80}https?://\d{1,3}(\.\d{1,3}){3}[^\n|]{0,60}\|\s*(sudo\s+)?(ba)?sh\b",),
        weight=1.5,
    ),
)

CAPABILITIES += (
    Capability(
        "cap.polled-commands",
        "backdoor",
        "polls an address for commands, runs whatever comes back and reports the output",
        "requests.get|urlopen|http.get|downloadstring|invoke-restmethod|invoke-webrequest|httpclient|fetch(",
        (
            r"requests\.get|urlopen|http\.Get|DownloadString|Invoke-RestMethod|Invoke-WebRequest|HttpClient|fetch\s*\(",
            _EXEC,
            r"\bsleep\s*\(|Start-Sleep|time\.Sleep|setTimeout|setInterval|Thread\.sleep|thread::sleep",
            _LOOP + r"|\bfor\s*\{|\bwhile\b",
        ),
        weight=1.5,
    ),
    Capability(
        "cap.wmi-persistence",
        "persistence",
        "plants a WMI event subscription that runs a command on a trigger",
        "__eventfilter|commandlineeventconsumer|__filtertoconsumerbinding",
        (r"__EventFilter|CommandLineEventConsumer|__FilterToConsumerBinding",),
    ),
    Capability(
        "cap.dns-tunnel",
        "exfiltration",
        "encodes data into DNS lookups to carry it out of the network",
        "b64encode|b32encode|hexlify|.hex(|base32|tobase64string",
        (
            r"b64encode|b32encode|hexlify|\.hex\s*\(\s*\)|base32|ToBase64String",
            # the looked-up name is built from data: f"{chunk}.t.example.net", chunk + ".", "$c.example"
            r"(resolve|query|gethostbyname|nslookup|\bdig|Resolve-DnsName|LookupHost|lookup)\s*\(?\s*"
            r"(f['\"]\{|\w{1,40}\s*\+\s*['\"]\.|['\"][^'\"\n]*\{\}\.|['\"]?\$\(?\w{1,40}\)?\.)",
        ),
        weight=1.5,
    ),
    Capability(
        "cap.anti-analysis",
        "av evasion",
        "checks for debuggers, virtual machines or sandboxes to hide its behaviour from analysts",
        "isdebuggerpresent|checkremotedebuggerpresent|vboxservice|vmtoolsd|sbiedll|wine_get_version|vmware|virtualbox",
        (
            r"IsDebuggerPresent|CheckRemoteDebuggerPresent|VBoxService|vmtoolsd|SbieDll|wine_get_version"
            r"|(vmware|virtualbox)[^\n]{0,80}(exit|quit|sleep|return)",
        ),
        weight=1.0,
    ),
    Capability(
        "cap.masquerade",
        "rootkit",
        "renames its process after a system one so that nobody notices it",
        "setproctitle|pr_set_name|argv[0]|.exe",
        (
            r"(setproctitle|PR_SET_NAME|argv\[0\]\s*=)[^\n]{0,80}(kworker|systemd-\w{1,40}d\b|\bsshd\b|svchost|lsass|dbus-daemon"
            r"|kthreadd)|(copy\w{0,30}\s*\(|Copy-Item\b|(?<![\w-])-o\s+|/out:|-OutFile\s+)[^\n]{0,160}?\b(svchost|RuntimeBroker"
            r"|csrss|lsass|winlogon|dllhost|conhost|taskhostw|smss|wininit)\.exe",
        ),
        weight=1.5,
    ),
    Capability(
        "cap.chat-exfil",
        "exfiltration",
        "sends files, screenshots or credentials it collected to a chat bot or webhook",
        "api.telegram.org|discord.com/api/webhooks|discordapp.com/api/webhooks",
        (
            r"api\.telegram\.org/bot[\s\S]{0,80}send(Document|Photo)|discord(app)?\.com/api/webhooks",
            _CODE_WALK + r"|ImageGrab|screenshot|Login\s+Data|getpass|clipboard|keyboard|\.ssh|wallet",
        ),
        weight=1.5,
    ),
    Capability(
        "cap.ransom-note-file",
        "ransomware",
        "writes a ransom note file next to the files it locked",
        "decrypt|restore_files|your_files|readme|your files|btc|bitcoin|xmr|monero|encrypted|eth",
        (
            r"HOW_TO_DECRYPT|DECRYPT_(FILES|INSTRUCTIONS)|RESTORE_FILES|YOUR_FILES_ARE|READ_?ME_TO_DECRYPT|!README!"
            r"|your\s+(files|documents|photos|data)\s+(are|have\s+been)\s+(encrypted|locked)"
            r"|(send|pay)\s+[\d.]+\s*(btc|bitcoin|xmr|monero|eth)\b",
        ),
        weight=1.5,
    ),
)

CAPABILITIES += (
    Capability(
        "cap.spread-over-ssh",
        "worm",
        "copies its own script to other hosts over SSH and starts it there",
        "scp|sshpass|rsync",
        (
            r"\b(scp|sshpass|rsync)\b[^\n]{0,120}(\"\$0\"|\$0\b|\$\{?BASH_SOURCE|sys\.argv\[0\]|__file__|\$PSCommandPath)"
            # ... or through a variable that holds its own path: SELF=$(readlink -f "$0") ... scp "$SELF" host:
            r"|(?s:\b(?P<self_path>\w{1,30})=[\"']?\$\((readlink\s+-f|realpath)\s+[\"']?\$(0|\{?BASH_SOURCE)[^\n]{0,40}\n.{0,3000}?"
            r"\b(scp|sshpass|rsync)\b[^\n]{0,120}\$\{?(?P=self_path)\b)",
        ),
    ),
    Capability(
        "cap.web-shell-decoded",
        "backdoor",
        "decodes a request parameter and evaluates it as code",
        "$_get|$_post|$_request|$_cookie|$_server",
        (
            r"(base64_decode|gzinflate|gzuncompress|str_rot13|hex2bin)\s*\(\s*\$_(GET|POST|REQUEST|COOKIE|SERVER)",
            r"\b(eval|assert|create_function)\s*\(",
        ),
        weight=1.5,
    ),
)

CAPABILITIES += (
    Capability(
        "cap.card-skimmer",
        "credential theft",
        "reads card number and security code fields of a page and beacons them to an address",
        "cvv|cvc|card|cc-|cc_",
        (
            r"\b(cvv|cvc|cc[-_]?(num|number|exp|cvc|cvv)|card[-_ ]?number|cardnumber)",
            r"new\s+Image\s*\(|sendBeacon\s*\(|\.src\s*=\s*['\"`]https?://",
            r"querySelector|getElementById|addEventListener|\.value\b",
        ),
        floor=0.6,
    ),
    Capability(
        "cap.hidden-launcher-icon",
        "spyware",
        "removes its own icon from the phone's launcher so the owner does not see it is installed",
        "setcomponentenabledsetting",
        (
            r"setComponentEnabledSetting\s*\((?s:.{0,300}?)COMPONENT_ENABLED_STATE_DISABLED",
            r"MainActivity|LAUNCHER|launcher|LauncherActivity|ComponentName\s*\(\s*this",
        ),
        weight=1.5,
    ),
    Capability(
        "cap.self-copy-with-passwords",
        "worm",
        "logs into other hosts with guessed passwords and copies its own program there",
        "current_exe|os.executable|argv[0]|__file__|execpath|getmodulefilename",
        (
            r"current_exe\s*\(|os\.Executable\s*\(|sys\.argv\[0\]|__file__|process\.execPath|GetModuleFileName",
            r"scp_send|sftp|ScpClient|SftpClient|\.put\s*\(|\.upload\w{0,20}\s*\(|copy_file",
            r"userauth_password|password\s*=|PasswordAuth|AuthMethod\.password|\.login\s*\(",
            r"for\s|\bloop\b|forEach|\.iter\(",
        ),
    ),
    Capability(
        "cap.silent-corruption",
        "wiper",
        "overwrites parts of many files with random bytes and puts their timestamps back, so the damage is not noticed",
        "chtimes|utime|setlastwritetime|touch -r|setlastmodified|filetime",
        (
            r"Chtimes\s*\(|os\.utime\s*\(|SetLastWriteTime\w{0,10}|touch\s+-r\b|setLastModified\s*\(|set_file_mtime|filetime::",
            r"rand\.Read|os\.urandom|RandomNumberGenerator|getrandom|Math\.random|rand::|random\.(randbytes|getrandbits)"
            r"|secrets\.token_bytes",
            r"WriteAt\s*\(|\.seek\s*\(|Seek\s*\(|write_at|pwrite",
            _CODE_WALK,
        ),
    ),
)

_COMPILED = tuple((c, tuple(re.compile(p, re.IGNORECASE) for p in c.parts)) for c in CAPABILITIES)
RULES: tuple[Rule, ...] = tuple(c.rule() for c in CAPABILITIES)
_RULE_OF = {r.id: r for r in RULES}


def capability_hits(subject: str) -> list[RuleHit]:
    """The capabilities whose every part appears in ``subject``, unless the request is defensive."""
    hits: list[RuleHit] = []
    low = subject.lower()
    for cap, parts in _COMPILED:
        if not any(h in low for h in cap.hints.split("|")):
            continue
        first = parts[0].search(subject)
        if first is None or any(p.search(subject) is None for p in parts[1:]):
            continue
        hits.append(RuleHit(_RULE_OF[cap.id], first.group(0)[:120], first.start()))
    words = prose(subject)
    defends = DETECTION_CODE.search(subject) or DEFENSIVE_PROSE.search(blank_escapes(words))
    return [] if hits and defends and not PLANTS.search(words) else hits


def prose(subject: str) -> str:
    """The request's own words: ``subject`` without its code (fenced blocks, ``~~~`` blocks, indented lines)."""
    words = _FENCED.sub(" ", subject) if ("```" in subject or "~~~" in subject) else subject
    return _INDENTED.sub(" ", words)


def fingerprint() -> str:
    """Changes whenever a capability changes (detectors trained with the old ones are retrained)."""
    import hashlib

    caps = "|".join(f"{c.id}:{c.weight}:{c.hints}:{':'.join(c.parts)}" for c in CAPABILITIES)
    text = DEFENSIVE_PROSE.pattern + PLANTS.pattern + caps
    return hashlib.sha256(text.encode()).hexdigest()[:12]
