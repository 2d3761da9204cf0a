# The argument checks of bench/ceiling-db.sh and bench/ceiling-db-rows.sh, which source it.
#
# ceiling_check SIZE TOKEN_HASH_HEX NAMES WORD...: exits with status 2 and a message unless
# SIZE is a number, TOKEN_HASH_HEX is 64 hex digits and every WORD holds only
# A-Z a-z 0-9 . _ : - (the words go into SQL literals or identifiers, in a file mariadb-slap
# splits at every ';'). NAMES is how the message calls the words ("ORG, USER and NAME_PREFIX").
# shellcheck shell=sh
ceiling_check() {
    case $1 in '' | *[!0-9]*)
        echo "$0: SIZE must be a number" >&2
        exit 2
        ;;
    esac
    case $2 in *[!0-9a-fA-F]*)
        echo "$0: TOKEN_HASH_HEX must be hex" >&2
        exit 2
        ;;
    esac
    [ "${#2}" -eq 64 ] || {
        echo "$0: TOKEN_HASH_HEX must be 64 hex digits" >&2
        exit 2
    }
    ceiling_names=$3
    shift 3
    for v in "$@"; do
        case $v in *[!A-Za-z0-9._:-]* | '')
            echo "$0: $ceiling_names may hold only A-Z a-z 0-9 . _ : -" >&2
            exit 2
            ;;
        esac
    done
}
