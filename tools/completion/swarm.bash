# bash completion for swarm: commands, options (from each command's --help), device names
# (the user's config and the scan cache: swarm __complete devices) and groups for --to.
# Installed as PREFIX/share/bash-completion/completions/swarm; or: source this file.
_swarm()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local cmd="" i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
        --timeout) ((i++)) ;;
        -*) ;;
        *) cmd=${COMP_WORDS[i]}; break ;;
        esac
    done
    local words
    if [[ $cur == -* ]]; then
        words=$(swarm $cmd --help 2>/dev/null | grep -oE -- '--[a-z][a-z-]*' | sort -u)
    elif [[ -z $cmd ]]; then
        words=$(swarm __complete commands 2>/dev/null)
    elif [[ $prev == --to ]]; then
        words="$(swarm __complete groups 2>/dev/null) $(swarm __complete devices 2>/dev/null)"
    elif [[ $cmd == fleet && ! " ${COMP_WORDS[*]:i+1:COMP_CWORD-i-1} " =~ \ (call|cfg|eval|fs|reboot)\  ]] && [[ $prev != --* ]]; then
        words="call cfg eval fs reboot"
    elif [[ $cmd == call && $prev != --* && $prev != call && ${COMP_WORDS[i+1]} == "$prev" ]]; then
        words=$(swarm __complete paths "$prev" 2>/dev/null) # swarm call LINK <TAB>: its commands
    else
        words=$(swarm __complete devices 2>/dev/null)
    fi
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _swarm swarm
