// Applicant-facing strings in the five languages of the hub: zh-Hans, en, pt, it, es.
//
// Elements carry `data-i18n="key"` (text) and optionally `data-i18n-vars='{"name":"…"}'`;
// `data-i18n-attr="aria-label:key;title:key2"` translates attributes. applyTranslations()
// re-renders all of them, so switching language never loses dynamic text.

export const LANGUAGES = [
  { code: 'zh-Hans', label: '简体中文' },
  { code: 'en', label: 'English' },
  { code: 'pt', label: 'Português' },
  { code: 'it', label: 'Italiano' },
  { code: 'es', label: 'Español' },
];

const STORAGE_KEY = 'globallink.lang';

export const MESSAGES = {
  en: {
    pageHeading: 'Your video appointment',
    pageTitle: 'Video appointment – GlobalLink',
    brand: 'GlobalLink',
    brandSub: 'Remote notarial service with Lishui, China',
    skipToContent: 'Skip to content',
    language: 'Language',
    officeTime: 'Time in Lishui: {time}',
    noToken:
      'This page needs your personal invitation link. Please open the complete link you received from the office.',
    inviteInvalid:
      'This invitation link is not valid. Check that you opened the complete link, or ask the office for a new one.',
    inviteExpired: 'This invitation link has expired. Please ask the office for a new one.',
    stepDevices: '1. Check your camera and microphone',
    devicesIntro:
      'Your browser will ask for permission to use your camera and microphone. Allow it: you should then see yourself below.',
    deviceStart: 'Start the check',
    deviceRetry: 'Try again',
    deviceChecking: 'Asking for the camera and microphone…',
    deviceOk: 'Your camera and microphone work.',
    micLevel: 'Microphone level',
    micHint: 'Say a few words: the bar should move.',
    localPreview: 'Your camera',
    deviceDenied:
      "Access to the camera or microphone was refused. Allow it in your browser's site settings (usually the icon next to the address bar), then try again.",
    deviceNotFound: 'No camera or microphone was found. Connect one and try again.',
    deviceInUse: 'The camera or microphone is being used by another app. Close that app and try again.',
    deviceInsecure: 'The camera can only be used on a secure (https) page. Please open the link exactly as you received it.',
    deviceOther: 'The camera or microphone could not be started ({message}).',
    connecting: 'Connecting to the office…',
    stepQueue: '2. Wait for an officer',
    greeting: 'Hello, {name}.',
    serviceLine: 'Your appointment: {service}',
    queueIntro: 'When you are ready, join the queue. An officer in Lishui will call you by video.',
    joinQueue: 'Join the queue',
    leaveQueue: 'Leave the queue',
    queueJoining: 'Joining the queue…',
    queuePosition: 'You are number {position} of {length} in the queue.',
    queueKeepOpen: 'Please keep this page open. You will be connected automatically.',
    queueLeft: 'You have left the queue. You can join again at any time.',
    stepCall: '3. Video call',
    remoteVideo: "Officer's video",
    localVideo: 'Your video',
    callConnecting: 'Connecting the video…',
    callWith: 'You are talking with {name}.',
    callFailed: 'The video connection could not be established. Check your internet connection.',
    mediaFailed: 'The video connection could not be set up ({message}).',
    enableSound: 'Turn on sound',
    peerJoined: 'The officer has joined the call.',
    peerLeft: 'The officer has left the call.',
    recording: 'Recording',
    recordingOn: 'This session is being recorded.',
    recordingOff: 'Recording has stopped.',
    consentTitle: 'Consent to recording',
    consentIntro: 'The officer asks for your consent. Please read the text below.',
    consentAccept: 'I agree',
    consentDecline: 'I do not agree',
    consentReopen: 'Answer the consent request',
    consentGiven: 'You agreed to the recording.',
    consentRefused: 'You did not agree to the recording.',
    receiptHeading: 'Your receipt',
    receiptIntro: 'The session is closed. Keep this receipt: it identifies the sealed record of your session.',
    receiptNone: 'The session is closed. No sealed record was produced for it.',
    receiptInterrupted:
      'The session was interrupted before the officer could finish. What happened so far has been sealed; the office will contact you about the next steps.',
    outcomeCompleted: 'Completed',
    outcomeInterrupted: 'Interrupted',
    tryLater: 'The office could not check your invitation just now ({message}). Please reload the page in a minute.',
    receiptArtefact: 'Record (artefact) ID',
    receiptHash: 'Fingerprint (manifest SHA-256)',
    receiptSession: 'Session ID',
    receiptOutcome: 'Outcome',
    receiptClosedAt: 'Closed at',
    receiptService: 'Service',
    receiptName: 'Name',
    saveReceipt: 'Save receipt',
    receiptSaved: 'The receipt was saved to your downloads.',
    receiptFileTitle: 'GlobalLink – receipt of a remote notarial session',
    receiptFileNote: 'Keep this file. The office can use the fingerprint to prove that your record has not been altered.',
    unreachable: 'The office could not be reached. Check your internet connection and reload the page.',
    disconnected: 'The connection to the office was lost. Reload the page to connect again.',
    errorMessage: 'Something went wrong: {message}',
    footer: 'Your invitation link is personal. Do not share it.',
  },

  'zh-Hans': {
    pageHeading: '您的视频预约',
    pageTitle: '视频预约 – GlobalLink',
    brand: 'GlobalLink',
    brandSub: '丽水远程公证服务',
    skipToContent: '跳到主要内容',
    language: '语言',
    officeTime: '丽水时间：{time}',
    noToken: '本页面需要您的专属邀请链接。请打开公证处发给您的完整链接。',
    inviteInvalid: '此邀请链接无效。请确认您打开的是完整链接，或联系公证处重新发送。',
    inviteExpired: '此邀请链接已过期。请联系公证处重新发送。',
    stepDevices: '1. 检查摄像头和麦克风',
    devicesIntro: '浏览器会请求使用摄像头和麦克风的权限。请选择“允许”，随后您应能在下方看到自己的画面。',
    deviceStart: '开始检查',
    deviceRetry: '重试',
    deviceChecking: '正在请求摄像头和麦克风权限…',
    deviceOk: '您的摄像头和麦克风工作正常。',
    micLevel: '麦克风音量',
    micHint: '请说几句话，音量条应随之变化。',
    localPreview: '您的摄像头画面',
    deviceDenied: '摄像头或麦克风的使用权限被拒绝。请在浏览器的网站设置中允许（通常是地址栏旁边的图标），然后重试。',
    deviceNotFound: '未找到摄像头或麦克风。请连接设备后重试。',
    deviceInUse: '摄像头或麦克风正被其他应用占用。请关闭该应用后重试。',
    deviceInsecure: '摄像头只能在安全（https）页面上使用。请按收到的原样打开链接。',
    deviceOther: '无法启动摄像头或麦克风（{message}）。',
    connecting: '正在连接公证处…',
    stepQueue: '2. 等待工作人员',
    greeting: '{name}，您好。',
    serviceLine: '您预约的业务：{service}',
    queueIntro: '准备就绪后，请加入排队。丽水的工作人员将通过视频与您连线。',
    joinQueue: '加入排队',
    leaveQueue: '退出排队',
    queueJoining: '正在加入排队…',
    queuePosition: '您目前排在第 {position} 位，共 {length} 人。',
    queueKeepOpen: '请保持此页面打开，轮到您时将自动接通。',
    queueLeft: '您已退出排队，可随时重新加入。',
    stepCall: '3. 视频通话',
    remoteVideo: '工作人员的画面',
    localVideo: '您的画面',
    callConnecting: '正在接通视频…',
    callWith: '您正在与 {name} 通话。',
    callFailed: '无法建立视频连接，请检查您的网络。',
    mediaFailed: '无法建立视频连接（{message}）。',
    enableSound: '打开声音',
    peerJoined: '工作人员已加入通话。',
    peerLeft: '工作人员已离开通话。',
    recording: '录制中',
    recordingOn: '本次视频正在录制。',
    recordingOff: '录制已停止。',
    consentTitle: '录音录像同意书',
    consentIntro: '工作人员请求您的同意，请阅读以下内容。',
    consentAccept: '我同意',
    consentDecline: '我不同意',
    consentReopen: '回复同意请求',
    consentGiven: '您已同意录音录像。',
    consentRefused: '您未同意录音录像。',
    receiptHeading: '您的回执',
    receiptIntro: '本次视频已结束。请保存此回执，它标识了您本次视频的封存记录。',
    receiptNone: '本次视频已结束，未生成封存记录。',
    receiptInterrupted: '本次视频在工作人员完成办理前中断。已进行的部分已封存，公证处将与您联系后续事宜。',
    outcomeCompleted: '已完成',
    outcomeInterrupted: '已中断',
    tryLater: '公证处暂时无法核验您的邀请（{message}）。请稍后刷新页面。',
    receiptArtefact: '记录编号',
    receiptHash: '数字指纹（清单 SHA-256）',
    receiptSession: '会话编号',
    receiptOutcome: '结果',
    receiptClosedAt: '结束时间',
    receiptService: '业务',
    receiptName: '姓名',
    saveReceipt: '保存回执',
    receiptSaved: '回执已保存到您的下载文件夹。',
    receiptFileTitle: 'GlobalLink – 远程公证视频回执',
    receiptFileNote: '请妥善保存此文件。公证处可凭数字指纹证明您的记录未被篡改。',
    unreachable: '无法连接公证处。请检查您的网络连接并刷新页面。',
    disconnected: '与公证处的连接已断开。请刷新页面重新连接。',
    errorMessage: '出现问题：{message}',
    footer: '您的邀请链接仅限本人使用，请勿转发。',
  },

  pt: {
    pageHeading: 'O seu atendimento por vídeo',
    pageTitle: 'Atendimento por vídeo – GlobalLink',
    brand: 'GlobalLink',
    brandSub: 'Serviço notarial à distância com Lishui, China',
    skipToContent: 'Saltar para o conteúdo',
    language: 'Idioma',
    officeTime: 'Hora em Lishui: {time}',
    noToken:
      'Esta página precisa da sua ligação de convite pessoal. Abra a ligação completa que recebeu do cartório.',
    inviteInvalid:
      'Esta ligação de convite não é válida. Confirme que abriu a ligação completa ou peça uma nova ao cartório.',
    inviteExpired: 'Esta ligação de convite expirou. Peça uma nova ao cartório.',
    stepDevices: '1. Verifique a câmara e o microfone',
    devicesIntro:
      'O navegador vai pedir autorização para usar a câmara e o microfone. Autorize: deverá ver a sua imagem abaixo.',
    deviceStart: 'Iniciar a verificação',
    deviceRetry: 'Tentar novamente',
    deviceChecking: 'A pedir acesso à câmara e ao microfone…',
    deviceOk: 'A sua câmara e o seu microfone funcionam.',
    micLevel: 'Nível do microfone',
    micHint: 'Diga algumas palavras: a barra deve mexer-se.',
    localPreview: 'A sua câmara',
    deviceDenied:
      'O acesso à câmara ou ao microfone foi recusado. Autorize-o nas definições do site no navegador (normalmente o ícone junto à barra de endereço) e tente novamente.',
    deviceNotFound: 'Não foi encontrada nenhuma câmara ou microfone. Ligue um e tente novamente.',
    deviceInUse: 'A câmara ou o microfone está a ser usado por outra aplicação. Feche-a e tente novamente.',
    deviceInsecure: 'A câmara só pode ser usada numa página segura (https). Abra a ligação exatamente como a recebeu.',
    deviceOther: 'Não foi possível iniciar a câmara ou o microfone ({message}).',
    connecting: 'A ligar ao cartório…',
    stepQueue: '2. Aguarde por um funcionário',
    greeting: 'Olá, {name}.',
    serviceLine: 'O seu atendimento: {service}',
    queueIntro: 'Quando estiver pronto, entre na fila. Um funcionário em Lishui irá chamá-lo por vídeo.',
    joinQueue: 'Entrar na fila',
    leaveQueue: 'Sair da fila',
    queueJoining: 'A entrar na fila…',
    queuePosition: 'É o número {position} de {length} na fila.',
    queueKeepOpen: 'Mantenha esta página aberta. A ligação será feita automaticamente.',
    queueLeft: 'Saiu da fila. Pode voltar a entrar a qualquer momento.',
    stepCall: '3. Videochamada',
    remoteVideo: 'Vídeo do funcionário',
    localVideo: 'O seu vídeo',
    callConnecting: 'A ligar o vídeo…',
    callWith: 'Está a falar com {name}.',
    callFailed: 'Não foi possível estabelecer a ligação de vídeo. Verifique a sua ligação à internet.',
    mediaFailed: 'Não foi possível preparar a ligação de vídeo ({message}).',
    enableSound: 'Ativar o som',
    peerJoined: 'O funcionário entrou na chamada.',
    peerLeft: 'O funcionário saiu da chamada.',
    recording: 'A gravar',
    recordingOn: 'Esta sessão está a ser gravada.',
    recordingOff: 'A gravação parou.',
    consentTitle: 'Consentimento para a gravação',
    consentIntro: 'O funcionário pede o seu consentimento. Leia o texto abaixo.',
    consentAccept: 'Concordo',
    consentDecline: 'Não concordo',
    consentReopen: 'Responder ao pedido de consentimento',
    consentGiven: 'Deu o seu consentimento para a gravação.',
    consentRefused: 'Não deu o seu consentimento para a gravação.',
    receiptHeading: 'O seu comprovativo',
    receiptIntro:
      'A sessão terminou. Guarde este comprovativo: identifica o registo selado da sua sessão.',
    receiptNone: 'A sessão terminou. Não foi produzido nenhum registo selado.',
    receiptInterrupted:
      'A sessão foi interrompida antes de o funcionário a poder concluir. O que foi feito até agora foi selado; o cartório entrará em contacto consigo sobre os próximos passos.',
    outcomeCompleted: 'Concluída',
    outcomeInterrupted: 'Interrompida',
    tryLater: 'O cartório não conseguiu verificar o seu convite neste momento ({message}). Recarregue a página daqui a um minuto.',
    receiptArtefact: 'Identificador do registo',
    receiptHash: 'Impressão digital (SHA-256 do manifesto)',
    receiptSession: 'Identificador da sessão',
    receiptOutcome: 'Resultado',
    receiptClosedAt: 'Terminada em',
    receiptService: 'Serviço',
    receiptName: 'Nome',
    saveReceipt: 'Guardar comprovativo',
    receiptSaved: 'O comprovativo foi guardado nas suas transferências.',
    receiptFileTitle: 'GlobalLink – comprovativo de sessão notarial à distância',
    receiptFileNote:
      'Guarde este ficheiro. O cartório pode usar a impressão digital para provar que o seu registo não foi alterado.',
    unreachable: 'Não foi possível contactar o cartório. Verifique a sua ligação à internet e recarregue a página.',
    disconnected: 'A ligação ao cartório perdeu-se. Recarregue a página para voltar a ligar.',
    errorMessage: 'Ocorreu um problema: {message}',
    footer: 'A sua ligação de convite é pessoal. Não a partilhe.',
  },

  it: {
    pageHeading: 'Il tuo appuntamento video',
    pageTitle: 'Appuntamento video – GlobalLink',
    brand: 'GlobalLink',
    brandSub: 'Servizio notarile a distanza con Lishui, Cina',
    skipToContent: 'Vai al contenuto',
    language: 'Lingua',
    officeTime: 'Ora a Lishui: {time}',
    noToken:
      "Questa pagina richiede il tuo link di invito personale. Apri il link completo che hai ricevuto dall'ufficio.",
    inviteInvalid:
      "Questo link di invito non è valido. Verifica di aver aperto il link completo oppure chiedine uno nuovo all'ufficio.",
    inviteExpired: "Questo link di invito è scaduto. Chiedine uno nuovo all'ufficio.",
    stepDevices: '1. Controlla videocamera e microfono',
    devicesIntro:
      'Il browser chiederà il permesso di usare la videocamera e il microfono. Consenti l’accesso: dovresti poi vederti qui sotto.',
    deviceStart: 'Avvia il controllo',
    deviceRetry: 'Riprova',
    deviceChecking: 'Richiesta di accesso a videocamera e microfono…',
    deviceOk: 'La videocamera e il microfono funzionano.',
    micLevel: 'Livello del microfono',
    micHint: 'Pronuncia qualche parola: la barra dovrebbe muoversi.',
    localPreview: 'La tua videocamera',
    deviceDenied:
      "L'accesso alla videocamera o al microfono è stato negato. Consentilo nelle impostazioni del sito del browser (di solito l'icona accanto alla barra degli indirizzi) e riprova.",
    deviceNotFound: 'Nessuna videocamera o microfono trovato. Collegane uno e riprova.',
    deviceInUse: "La videocamera o il microfono è usato da un'altra app. Chiudila e riprova.",
    deviceInsecure: 'La videocamera si può usare solo su una pagina sicura (https). Apri il link esattamente come lo hai ricevuto.',
    deviceOther: 'Impossibile avviare la videocamera o il microfono ({message}).',
    connecting: "Connessione all'ufficio…",
    stepQueue: '2. Attendi un funzionario',
    greeting: 'Buongiorno, {name}.',
    serviceLine: 'Il tuo appuntamento: {service}',
    queueIntro: 'Quando sei pronto, mettiti in coda. Un funzionario di Lishui ti chiamerà in video.',
    joinQueue: 'Mettiti in coda',
    leaveQueue: 'Esci dalla coda',
    queueJoining: 'Ingresso in coda…',
    queuePosition: 'Sei il numero {position} di {length} in coda.',
    queueKeepOpen: 'Tieni aperta questa pagina. Verrai collegato automaticamente.',
    queueLeft: 'Sei uscito dalla coda. Puoi rientrare in qualsiasi momento.',
    stepCall: '3. Videochiamata',
    remoteVideo: 'Video del funzionario',
    localVideo: 'Il tuo video',
    callConnecting: 'Collegamento video in corso…',
    callWith: 'Stai parlando con {name}.',
    callFailed: 'Impossibile stabilire il collegamento video. Controlla la connessione a internet.',
    mediaFailed: 'Impossibile preparare il collegamento video ({message}).',
    enableSound: "Attiva l'audio",
    peerJoined: 'Il funzionario è entrato nella chiamata.',
    peerLeft: 'Il funzionario ha lasciato la chiamata.',
    recording: 'Registrazione',
    recordingOn: 'Questa sessione è in corso di registrazione.',
    recordingOff: 'La registrazione è terminata.',
    consentTitle: 'Consenso alla registrazione',
    consentIntro: 'Il funzionario chiede il tuo consenso. Leggi il testo qui sotto.',
    consentAccept: 'Acconsento',
    consentDecline: 'Non acconsento',
    consentReopen: 'Rispondi alla richiesta di consenso',
    consentGiven: 'Hai acconsentito alla registrazione.',
    consentRefused: 'Non hai acconsentito alla registrazione.',
    receiptHeading: 'La tua ricevuta',
    receiptIntro:
      'La sessione è chiusa. Conserva questa ricevuta: identifica il verbale sigillato della tua sessione.',
    receiptNone: 'La sessione è chiusa. Non è stato prodotto alcun verbale sigillato.',
    receiptInterrupted:
      "La sessione è stata interrotta prima che il funzionario potesse concluderla. Quanto svolto finora è stato sigillato; l'ufficio ti contatterà per i passi successivi.",
    outcomeCompleted: 'Completata',
    outcomeInterrupted: 'Interrotta',
    tryLater: "L'ufficio non è riuscito a verificare il tuo invito in questo momento ({message}). Ricarica la pagina tra un minuto.",
    receiptArtefact: 'Identificativo del verbale',
    receiptHash: 'Impronta digitale (SHA-256 del manifesto)',
    receiptSession: 'Identificativo della sessione',
    receiptOutcome: 'Esito',
    receiptClosedAt: 'Chiusa il',
    receiptService: 'Servizio',
    receiptName: 'Nome',
    saveReceipt: 'Salva la ricevuta',
    receiptSaved: 'La ricevuta è stata salvata nei tuoi download.',
    receiptFileTitle: 'GlobalLink – ricevuta di una sessione notarile a distanza',
    receiptFileNote:
      "Conserva questo file. L'ufficio può usare l'impronta digitale per dimostrare che il tuo verbale non è stato modificato.",
    unreachable: "Impossibile raggiungere l'ufficio. Controlla la connessione a internet e ricarica la pagina.",
    disconnected: "La connessione con l'ufficio si è interrotta. Ricarica la pagina per ricollegarti.",
    errorMessage: 'Si è verificato un problema: {message}',
    footer: 'Il tuo link di invito è personale. Non condividerlo.',
  },

  es: {
    pageHeading: 'Su cita por vídeo',
    pageTitle: 'Cita por vídeo – GlobalLink',
    brand: 'GlobalLink',
    brandSub: 'Servicio notarial a distancia con Lishui, China',
    skipToContent: 'Saltar al contenido',
    language: 'Idioma',
    officeTime: 'Hora en Lishui: {time}',
    noToken:
      'Esta página necesita su enlace de invitación personal. Abra el enlace completo que recibió de la oficina.',
    inviteInvalid:
      'Este enlace de invitación no es válido. Compruebe que abrió el enlace completo o pida uno nuevo a la oficina.',
    inviteExpired: 'Este enlace de invitación ha caducado. Pida uno nuevo a la oficina.',
    stepDevices: '1. Compruebe la cámara y el micrófono',
    devicesIntro:
      'El navegador le pedirá permiso para usar la cámara y el micrófono. Permítalo: después debería verse a sí mismo abajo.',
    deviceStart: 'Iniciar la comprobación',
    deviceRetry: 'Reintentar',
    deviceChecking: 'Solicitando acceso a la cámara y al micrófono…',
    deviceOk: 'Su cámara y su micrófono funcionan.',
    micLevel: 'Nivel del micrófono',
    micHint: 'Diga unas palabras: la barra debería moverse.',
    localPreview: 'Su cámara',
    deviceDenied:
      'Se ha denegado el acceso a la cámara o al micrófono. Permítalo en la configuración del sitio del navegador (normalmente el icono junto a la barra de direcciones) y vuelva a intentarlo.',
    deviceNotFound: 'No se ha encontrado ninguna cámara ni micrófono. Conecte uno y vuelva a intentarlo.',
    deviceInUse: 'Otra aplicación está usando la cámara o el micrófono. Ciérrela y vuelva a intentarlo.',
    deviceInsecure: 'La cámara solo puede usarse en una página segura (https). Abra el enlace tal como lo recibió.',
    deviceOther: 'No se pudo iniciar la cámara o el micrófono ({message}).',
    connecting: 'Conectando con la oficina…',
    stepQueue: '2. Espere a un funcionario',
    greeting: 'Hola, {name}.',
    serviceLine: 'Su cita: {service}',
    queueIntro: 'Cuando esté preparado, póngase en la cola. Un funcionario de Lishui le llamará por vídeo.',
    joinQueue: 'Ponerse en la cola',
    leaveQueue: 'Salir de la cola',
    queueJoining: 'Entrando en la cola…',
    queuePosition: 'Es el número {position} de {length} en la cola.',
    queueKeepOpen: 'Mantenga esta página abierta. Se le conectará automáticamente.',
    queueLeft: 'Ha salido de la cola. Puede volver a entrar en cualquier momento.',
    stepCall: '3. Videollamada',
    remoteVideo: 'Vídeo del funcionario',
    localVideo: 'Su vídeo',
    callConnecting: 'Conectando el vídeo…',
    callWith: 'Está hablando con {name}.',
    callFailed: 'No se pudo establecer la conexión de vídeo. Compruebe su conexión a internet.',
    mediaFailed: 'No se pudo preparar la conexión de vídeo ({message}).',
    enableSound: 'Activar el sonido',
    peerJoined: 'El funcionario se ha unido a la llamada.',
    peerLeft: 'El funcionario ha salido de la llamada.',
    recording: 'Grabando',
    recordingOn: 'Esta sesión se está grabando.',
    recordingOff: 'La grabación se ha detenido.',
    consentTitle: 'Consentimiento para la grabación',
    consentIntro: 'El funcionario le pide su consentimiento. Lea el texto siguiente.',
    consentAccept: 'Acepto',
    consentDecline: 'No acepto',
    consentReopen: 'Responder a la solicitud de consentimiento',
    consentGiven: 'Ha aceptado la grabación.',
    consentRefused: 'No ha aceptado la grabación.',
    receiptHeading: 'Su justificante',
    receiptIntro:
      'La sesión ha terminado. Guarde este justificante: identifica el registro sellado de su sesión.',
    receiptNone: 'La sesión ha terminado. No se ha generado ningún registro sellado.',
    receiptInterrupted:
      'La sesión se interrumpió antes de que el funcionario pudiera terminarla. Lo realizado hasta ahora ha quedado sellado; la oficina se pondrá en contacto con usted para los siguientes pasos.',
    outcomeCompleted: 'Completada',
    outcomeInterrupted: 'Interrumpida',
    tryLater: 'La oficina no ha podido comprobar su invitación en este momento ({message}). Recargue la página dentro de un minuto.',
    receiptArtefact: 'Identificador del registro',
    receiptHash: 'Huella digital (SHA-256 del manifiesto)',
    receiptSession: 'Identificador de la sesión',
    receiptOutcome: 'Resultado',
    receiptClosedAt: 'Finalizada el',
    receiptService: 'Servicio',
    receiptName: 'Nombre',
    saveReceipt: 'Guardar justificante',
    receiptSaved: 'El justificante se ha guardado en sus descargas.',
    receiptFileTitle: 'GlobalLink – justificante de sesión notarial a distancia',
    receiptFileNote:
      'Guarde este archivo. La oficina puede usar la huella digital para demostrar que su registro no ha sido modificado.',
    unreachable: 'No se ha podido contactar con la oficina. Compruebe su conexión a internet y recargue la página.',
    disconnected: 'Se ha perdido la conexión con la oficina. Recargue la página para volver a conectar.',
    errorMessage: 'Se ha producido un problema: {message}',
    footer: 'Su enlace de invitación es personal. No lo comparta.',
  },
};

/** Service names used when GET /api/services cannot be reached. */
export const SERVICE_NAMES = {
  inheritance: {
    en: 'Inheritance',
    'zh-Hans': '继承公证',
    pt: 'Herança',
    it: 'Successione ereditaria',
    es: 'Herencia',
  },
  'driving-licence-renewal': {
    en: 'Driving licence renewal',
    'zh-Hans': '机动车驾驶证换证',
    pt: 'Renovação da carta de condução',
    it: 'Rinnovo della patente di guida',
    es: 'Renovación del permiso de conducir',
  },
  'id-card-renewal': {
    en: 'Identity card renewal',
    'zh-Hans': '居民身份证换领',
    pt: 'Renovação do cartão de identidade',
    it: "Rinnovo della carta d'identità",
    es: 'Renovación del documento de identidad',
  },
};

const CODES = LANGUAGES.map((l) => l.code);

/** Map a BCP 47 tag to one of ours, or null: "pt-BR" → "pt", "zh-CN"/"zh-Hans-CN" → "zh-Hans". */
export function matchLanguage(tag) {
  if (!tag) return null;
  const lower = String(tag).toLowerCase();
  if (lower === 'zh-hans' || lower.startsWith('zh')) return 'zh-Hans';
  const primary = lower.split('-')[0];
  return CODES.includes(primary) ? primary : null;
}

/** The stored choice, else the first browser language we speak, else English. */
export function initialLanguage() {
  try {
    const stored = localStorage.getItem(STORAGE_KEY);
    if (stored && CODES.includes(stored)) return stored;
  } catch {
    /* storage blocked: fall through */
  }
  const prefs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
  for (const tag of prefs) {
    const m = matchLanguage(tag);
    if (m) return m;
  }
  return 'en';
}

let current = 'en';

export function currentLanguage() {
  return current;
}

/** Translate `key`, substituting `{name}` placeholders. Falls back to English, then the key. */
export function t(key, vars = {}) {
  const table = MESSAGES[current] || MESSAGES.en;
  let text = table[key] ?? MESSAGES.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

/** Set an element's text from a key (kept on the element so a language switch re-renders it). */
export function setI18n(el, key, vars) {
  if (!key) {
    delete el.dataset.i18n;
    delete el.dataset.i18nVars;
    el.textContent = '';
    return;
  }
  el.dataset.i18n = key;
  if (vars && Object.keys(vars).length) el.dataset.i18nVars = JSON.stringify(vars);
  else delete el.dataset.i18nVars;
  el.textContent = t(key, vars || {});
}

/** Re-render every translated element and attribute under `root`. */
export function applyTranslations(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) {
    let vars = {};
    if (el.dataset.i18nVars) {
      try {
        vars = JSON.parse(el.dataset.i18nVars);
      } catch {
        vars = {};
      }
    }
    el.textContent = t(el.dataset.i18n, vars);
  }
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of el.dataset.i18nAttr.split(';')) {
      const [attr, key] = pair.split(':').map((s) => s.trim());
      if (attr && key) el.setAttribute(attr, t(key));
    }
  }
}

/**
 * Switch language: set <html lang>, the title, and re-render. `remember` stores an explicit
 * choice of the user (the browser's preference is not stored, so it can still change).
 */
export function setLanguage(code, { remember = false } = {}) {
  current = CODES.includes(code) ? code : 'en';
  if (remember) {
    try {
      localStorage.setItem(STORAGE_KEY, current);
    } catch {
      /* storage blocked: the choice lasts for this page only */
    }
  }
  document.documentElement.lang = current;
  document.title = t('pageTitle');
  applyTranslations();
  return current;
}

/** The localized name of a service, from the hub's catalogue or the built-in fallback. */
export function serviceName(code, catalogue, lang = current) {
  const fromHub = catalogue && catalogue[code];
  if (fromHub && (fromHub[lang] || fromHub.en)) return fromHub[lang] || fromHub.en;
  const local = SERVICE_NAMES[code];
  if (local) return local[lang] || local.en;
  return code || '';
}
